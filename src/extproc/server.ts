/**
 * The ext_proc gRPC server: one bidi stream per HTTP request, strictly
 * sequential per stream, fail-open on anything the handler or the peer gets
 * wrong (rules in stream-logic.ts). The same server takes Envoy's gRPC access
 * log (AccessLogService/StreamAccessLogs) and hands its entries to the
 * handler's onAccessLog.
 *
 * Two transports, same wire and behaviour:
 * - 'grpc-js': @grpc/grpc-js with a hand-built service definition
 *   whose (de)serializers are our codec, so protobufjs is never on the hot path;
 *   health via grpc-health-check.
 * - 'http2' (default, as in config): node:http2 directly (h2-transport.ts), for CPU efficiency.
 */
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_EXTPROC_LISTEN, DEFAULT_EXTPROC_TRANSPORT, type EXTPROC_TRANSPORTS } from '../config/defaults.js';
import { HealthImplementation } from 'grpc-health-check';
import { CONTINUE_RESPONSE, decodeProcessingRequest, encodeRequestBodyResponse, encodeRequestHeadersResponse, encodeResponseHeadersResponse, Phase } from './codec.js';
import type { ExtProcHandler, RequestHeadersReply, ResponseHeadersReply, StreamEndReason } from './handler.js';
import { createH2Transport } from './h2-transport.js';
import { ACCESS_LOG_METHOD_PATH, ACCESS_LOG_RESPONSE, decodeStreamAccessLogsMessage } from './accesslog-codec.js';
import type { AccessLogEntry } from './handler.js';
import { EXT_PROC_METHOD_PATH, EXT_PROC_SERVICE_NAME } from './proto-files.js';
import { Action, ExtProcStream, MalformedMessage, type ExtProcErrorKind, type ExtProcLogger, type Incoming, type StreamHooks } from './stream-logic.js';
import { invariant } from '../util/errors.js';

export type { ExtProcErrorKind, ExtProcLogger } from './stream-logic.js';

export type ExtProcTransport = (typeof EXTPROC_TRANSPORTS)[number];

export interface ExtProcServerOptions<D = unknown> {
  handler: ExtProcHandler<D>;
  /** `host:port` (port 0 picks a free one) or `unix:/path`. */
  address?: string;
  /** pino-compatible. */
  logger?: ExtProcLogger;
  /** Called once per stream, after the handler's onStreamEnd. */
  onStreamEnd?(outcome: StreamEndReason): void;
  onError?(kind: ExtProcErrorKind, err: unknown): void;
  transport?: ExtProcTransport;
  /** grpc-js transport only: passed to grpc.Server. */
  grpcOptions?: grpc.ServerOptions;
}

export const EXT_PROC_SERVER_DEFAULTS = {
  address: DEFAULT_EXTPROC_LISTEN,
  drainTimeoutMs: 5_000,
  transport: DEFAULT_EXTPROC_TRANSPORT as ExtProcTransport,
  /** Health check service names Envoy or Kubernetes may probe. */
  healthServices: ['', EXT_PROC_SERVICE_NAME] as readonly string[],
} as const;

export interface ExtProcServer {
  /** Binds and serves. Resolves with the bound address (the real port when 0 was asked; 0 for unix sockets). */
  start(): Promise<{ address: string; port: number }>;
  /** Flip the gRPC health status of every registered service name. */
  setServing(serving: boolean): void;
  /** Stop taking new streams, wait for open ones up to `timeoutMs`, then force-close. */
  drain(timeoutMs?: number): Promise<void>;
  /** Force-close now. */
  close(): Promise<void>;
  /** Streams currently open. */
  readonly activeStreams: number;
}

// ---------------------------------------------------------------------------
// grpc-js transport.

/** What the grpc-js serializer receives: a constant continue response, or a reply to encode. */
type Outgoing =
  | Buffer
  | { readonly phase: typeof Phase.RequestHeaders; readonly reply: RequestHeadersReply }
  | { readonly phase: typeof Phase.ResponseHeaders; readonly reply: ResponseHeadersReply }
  | { readonly phase: typeof Phase.RequestBody; readonly body: Buffer };

function deserialize(buf: Buffer): Incoming {
  // grpc-js answers a throwing deserializer with INTERNAL and never tells the
  // stream handler, so errors are returned as values instead.
  try {
    return decodeProcessingRequest(buf);
  } catch (e) {
    return new MalformedMessage(e);
  }
}

function serialize(out: Outgoing): Buffer {
  if (Buffer.isBuffer(out)) return out;
  // Scratch view: grpc-js copies it into its frame before returning.
  if (out.phase === Phase.RequestBody) return encodeRequestBodyResponse(out.body);
  return out.phase === Phase.RequestHeaders ? encodeRequestHeadersResponse(out.reply) : encodeResponseHeadersResponse(out.reply);
}

const identity = <T>(x: T): T => x;

/** Hand-built service definition: same wire path as Envoy's, our codec. */
export const EXT_PROC_SERVICE: grpc.ServiceDefinition = {
  Process: {
    path: EXT_PROC_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity as (x: unknown) => Buffer,
    requestDeserialize: deserialize,
    responseSerialize: serialize as (x: unknown) => Buffer,
    responseDeserialize: identity,
    originalName: 'process',
  },
};

/** Envoy's gRPC access-log service (client streaming), decoded by our codec. */
const ACCESS_LOG_SERVICE: grpc.ServiceDefinition = {
  StreamAccessLogs: {
    path: ACCESS_LOG_METHOD_PATH,
    requestStream: true,
    responseStream: false,
    requestSerialize: identity as (x: unknown) => Buffer,
    requestDeserialize: (buf: Buffer): AccessLogEntry[] | MalformedMessage => {
      try {
        return decodeStreamAccessLogsMessage(buf);
      } catch (e) {
        return new MalformedMessage(e);
      }
    },
    responseSerialize: () => ACCESS_LOG_RESPONSE,
    responseDeserialize: identity,
    originalName: 'streamAccessLogs',
  },
};

/**
 * True when the peer reset the HTTP/2 stream (e.g. a client cancelled).
 * Reads grpc-js internals; when they are not there, a half-closed stream counts as ok.
 */
function resetByPeer(call: object): boolean {
  const rst = (call as { call?: { stream?: { rstCode?: unknown } } }).call?.stream?.rstCode;
  return typeof rst === 'number' && rst !== 0;
}

function grpcJsTransport(address: string, grpcOptions: grpc.ServerOptions | undefined, newStream: () => ExtProcStream, hooks: StreamHooks) {
  const server = new grpc.Server(grpcOptions);
  const health = new HealthImplementation(
    Object.fromEntries(EXT_PROC_SERVER_DEFAULTS.healthServices.map((s) => [s, 'SERVING' as const])),
  );
  health.addToServer(server);
  let draining = false;

  function onCall(call: grpc.ServerDuplexStream<Incoming, Outgoing>): void {
    if (draining) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'draining' });
      return;
    }
    const s = newStream();
    let halfClosed = false;
    call.on('data', (msg: Incoming) => {
      switch (s.handle(msg)) {
        case Action.Constant:
          // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- stream-logic asks to write only the phases it has a reply for
          call.write(CONTINUE_RESPONSE[s.constPhase]!);
          return;
        case Action.RequestReply:
          // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- stream-logic asks to write only the phases it has a reply for
          call.write({ phase: Phase.RequestHeaders, reply: s.requestReply! });
          return;
        case Action.ResponseReply:
          // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- stream-logic asks to write only the phases it has a reply for
          call.write({ phase: Phase.ResponseHeaders, reply: s.responseReply! });
          return;
        case Action.BodyReply:
          // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- stream-logic asks to write only the phases it has a reply for
          call.write({ phase: Phase.RequestBody, body: s.bodyReply!.body });
          s.bodyReply = null;
          return;
        case Action.Fail:
          s.end('error');
          // grpc-js turns an emitted error into the call's final status.
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: s.failDetails });
          return;
        default:
      }
    });
    // grpc-js emits 'cancelled' whenever the HTTP/2 stream closes, even after a
    // clean status, and a reset also ends the readable side first; the two are
    // told apart by the HTTP/2 RST code, known once 'cancelled' fires.
    const settle = (): void => s.end(halfClosed && !resetByPeer(call) ? 'half-closed' : 'reset');
    call.on('end', () => {
      if (s.finished) return;
      halfClosed = true;
      call.end();
    });
    call.on('cancelled', settle);
    call.on('error', () => s.end('error'));
    // Safety net for streams torn down without a half-close; after a half-close
    // the Duplex closes before grpc-js has seen the RST code, so wait for 'cancelled'.
    call.on('close', () => {
      if (!halfClosed) settle();
    });
  }

  server.addService(EXT_PROC_SERVICE, { Process: onCall as grpc.handleBidiStreamingCall<Incoming, Outgoing> });

  function onAccessLog(
    call: grpc.ServerReadableStream<AccessLogEntry[] | MalformedMessage, Buffer>,
    callback: grpc.sendUnaryData<Buffer>,
  ): void {
    let failed = false;
    call.on('data', (msg: AccessLogEntry[] | MalformedMessage) => {
      if (failed) return;
      if (msg instanceof MalformedMessage) {
        failed = true;
        hooks.onError('malformed', msg.error);
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'malformed StreamAccessLogsMessage' });
        return;
      }
      try {
        hooks.handler.onAccessLog?.(msg);
      } catch (e) {
        hooks.onError('handler', e);
        hooks.logger.error({ err: e }, 'access-log handler threw');
      }
    });
    call.on('end', () => {
      if (!failed) callback(null, ACCESS_LOG_RESPONSE);
    });
    call.on('error', () => {});
  }
  server.addService(ACCESS_LOG_SERVICE, { StreamAccessLogs: onAccessLog as grpc.handleClientStreamingCall<unknown, Buffer> });

  const setServing = (serving: boolean): void => {
    for (const s of EXT_PROC_SERVER_DEFAULTS.healthServices) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
  };
  return {
    setServing,
    start: () =>
      new Promise<{ address: string; port: number }>((resolve, reject) => {
        server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
          if (err) return reject(err);
          resolve({ address: address.startsWith('unix:') ? address : `${address.slice(0, address.lastIndexOf(':'))}:${port}`, port });
        });
      }),
    drain: (timeoutMs: number) => {
      draining = true;
      setServing(false);
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    close: () => {
      draining = true;
      server.forceShutdown();
      return Promise.resolve();
    },
  };
}

// ---------------------------------------------------------------------------

const NOOP = (): void => {};
const NOOP_LOGGER: ExtProcLogger = { debug: NOOP, info: NOOP, warn: NOOP, error: NOOP };

export function createExtProcServer<D>(opts: ExtProcServerOptions<D>): ExtProcServer {
  const logger = opts.logger ?? NOOP_LOGGER;
  const address = opts.address ?? EXT_PROC_SERVER_DEFAULTS.address;
  const onStreamEnd = opts.onStreamEnd ?? NOOP;
  let active = 0;
  let nextStreamId = 0;
  let started = false;
  const hooks: StreamHooks<D> = {
    handler: opts.handler,
    logger,
    onError: opts.onError ?? NOOP,
    onStreamEnd: (outcome) => {
      active--;
      onStreamEnd(outcome);
    },
  };
  const newStream = (): ExtProcStream<D> => {
    active++;
    return new ExtProcStream<D>(++nextStreamId, hooks);
  };
  const transport = opts.transport ?? EXT_PROC_SERVER_DEFAULTS.transport;
  const t =
    transport === 'http2'
      ? createH2Transport({ address, healthServices: EXT_PROC_SERVER_DEFAULTS.healthServices, newStream, hooks })
      : grpcJsTransport(address, opts.grpcOptions, newStream, hooks);

  return {
    get activeStreams() {
      return active;
    },
    setServing: (serving) => t.setServing(serving),
    async start() {
      invariant(!started, 'ext_proc server already started');
      started = true;
      const bound = await t.start();
      logger.info({ address: bound.address, transport }, 'ext_proc server listening');
      return bound;
    },
    async drain(timeoutMs = EXT_PROC_SERVER_DEFAULTS.drainTimeoutMs) {
      logger.info({ active, timeoutMs }, 'ext_proc server draining');
      await t.drain(timeoutMs);
      if (active > 0) logger.warn({ active }, 'ext_proc drain timed out; open streams were closed');
    },
    close: () => t.close(),
  };
}
