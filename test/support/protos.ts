/**
 * Reference codec for tests: protobufjs via @grpc/proto-loader over our .proto
 * files, with the options a typical TS ext_proc server uses (keepCase).
 */
import * as protoLoader from '@grpc/proto-loader';
import { EXT_PROC_PROTO, PROTO_ROOT } from '../../src/extproc/proto-files.js';

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

export interface ReferenceCodec {
  definition: protoLoader.PackageDefinition;
  method: protoLoader.MethodDefinition<object, object>;
  encodeRequest(obj: object): Buffer;
  decodeRequest(buf: Buffer): Record<string, unknown>;
  encodeResponse(obj: object): Buffer;
  decodeResponse(buf: Buffer): Record<string, unknown>;
}

let cached: ReferenceCodec | undefined;

export function referenceCodec(): ReferenceCodec {
  if (cached) return cached;
  const definition = protoLoader.loadSync(EXT_PROC_PROTO, LOADER_OPTIONS);
  const service = definition['envoy.service.ext_proc.v3.ExternalProcessor'] as protoLoader.ServiceDefinition;
  const method = service.Process as protoLoader.MethodDefinition<object, object>;
  cached = {
    definition,
    method,
    encodeRequest: (o) => method.requestSerialize(o),
    decodeRequest: (b) => method.requestDeserialize(b) as Record<string, unknown>,
    encodeResponse: (o) => method.responseSerialize(o),
    decodeResponse: (b) => method.responseDeserialize(b) as Record<string, unknown>,
  };
  return cached;
}
