import { findProtoRoot } from '../util/proto-root.js';

/** Path of the ext_proc service proto relative to PROTO_ROOT. */
export const EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto';
/** The package's proto/ directory (the include dir for proto-loader). */
export const PROTO_ROOT = findProtoRoot(EXT_PROC_PROTO);
/** gRPC path Envoy calls. */
export const EXT_PROC_METHOD_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
export const EXT_PROC_SERVICE_NAME = 'envoy.service.ext_proc.v3.ExternalProcessor';
