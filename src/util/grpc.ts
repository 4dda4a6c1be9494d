/**
 * What the gossip and aggregator gRPC services share: message-size caps,
 * keepalive and reconnect options, proto loading (proto-loader: keepCase,
 * int64 as Number, bytes as Buffer), and server bind/shutdown. Gossip and the
 * reward stream are batched and off the request path, so dynamic loading is
 * fine here. Each service's own protocol lives beside it (gossip/proto.ts,
 * aggregator/proto.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { findProtoRoot } from './proto-root.js';
import { BanditError, ErrorCodes } from './errors.js';

/** Snapshots and batches are small; this caps what a peer can make us buffer. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export const GRPC_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  // Reconnect quickly after a peer restarts (grpc-js defaults to 1 s .. 120 s).
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
};

export interface LoadedService {
  service: grpc.ServiceDefinition;
  Client: grpc.ServiceClientConstructor;
}

/** Loads `service` (e.g. `envoy_bandit.v1.Gossip`) from `file` under proto/. */
export function loadService(file: string, service: string): LoadedService {
  const def = loadSync(file, { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, includeDirs: [findProtoRoot(file)] });
  let node: unknown = grpc.loadPackageDefinition(def);
  for (const part of service.split('.')) node = (node as Record<string, unknown>)[part];
  const Client = node as grpc.ServiceClientConstructor;
  return { service: Client.service, Client };
}

/** Binds a grpc server on a `host:port` address; resolves with the real port. */
export function bindServer(server: grpc.Server, address: string, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.bindAsync(address, credentials, (e, port) => (e ? reject(e) : resolvePort(port)));
  });
}

/** Graceful shutdown bounded by `ms`, then force. */
export function shutdownServer(server: grpc.Server, ms: number): Promise<void> {
  return new Promise((done) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      done();
    }, ms);
    t.unref();
    server.tryShutdown(() => {
      clearTimeout(t);
      done();
    });
  });
}

type UnaryFn = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: unknown) => void) => void;

/** One unary call on a dynamically loaded client, bounded by `timeoutMs`. */
export function unaryCall(client: grpc.Client, method: string, req: unknown, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, UnaryFn | undefined>)[method];
    if (!fn) return reject(new BanditError(ErrorCodes.INTERNAL, `gRPC client has no method ${method}`));
    fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (e, res) => (e ? reject(e) : resolve(res)));
  });
}
