import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProtoRoot(): string {
  // src/extproc/ in the tree, dist/src/extproc/ once built: walk up to the package's proto/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, EXT_PROC_PROTO))) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error(`proto/${EXT_PROC_PROTO} not found above ${fileURLToPath(import.meta.url)}`);
}

/** Path of the ext_proc service proto relative to PROTO_ROOT. */
export const EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto';
/** The package's proto/ directory (the include dir for proto-loader). */
export const PROTO_ROOT = findProtoRoot();
/** gRPC path Envoy calls. */
export const EXT_PROC_METHOD_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
export const EXT_PROC_SERVICE_NAME = 'envoy.service.ext_proc.v3.ExternalProcessor';
