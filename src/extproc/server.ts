/**
 * The ext_proc gRPC server: one bidi stream per HTTP request, strictly
 * sequential per stream, fail-open on anything the handler or the peer gets
 * wrong. Uses grpc-js with a hand-built service definition whose
 * (de)serializers are our codec, so protobufjs is never on the hot path.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { BanditError, ErrorCodes } from '../util/errors.js';
import {
  CONTINUE_RESPONSE,
  decodeProcessingRequest,
  DecodedRequest,
  encodeRequestHeadersResponse,
  encodeResponseHeadersResponse,
  ExtProcMalformedError,
  Phase,
} from './codec.js';
import type { ExtProcHandler, RequestHeadersReply, ResponseHeadersReply, StreamContext, StreamEndReason } from './handler.js';
import { EXT_PROC_METHOD_PATH, EXT_PROC_SERVICE_NAME } from './proto-files.js';

export type ExtProcErrorKind = 'malformed' | 'out_of_order' | 'handler' | 'unexpected_phase';

/** The subset of a pino logger the server uses. */
export type ExtProcLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface ExtProcServerOptions {
  handler: ExtProcHandler;
  /** `host:port` (port 0 picks a free one) or `unix:/path`. */
  address?: string;
  logger?: ExtProcLogger;
  /** Called once per stream, after the handler's onStreamEnd. */
  onStreamEnd?(outcome: StreamEndReason): void;
  onError?(kind: ExtProcErrorKind, err: unknown): void;
  /** Passed to grpc.Server (e.g. 'grpc.max_concurrent_streams'). */
  grpcOptions?: grpc.ServerOptions;
}

export const EXT_PROC_SERVER_DEFAULTS = {
  address: '127.0.0.1:50051',
  drainTimeoutMs: 5_000,
  /** Health check service names Envoy or Kubernetes may probe. */
  healthServices: ['', EXT_PROC_SERVICE_NAME] as readonly string[],
} as const;

export interface ExtProcServer {
  /** Binds and serves. Resolves with the bound address (the real port when 0 was asked). */
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

/** What the serializer receives: a constant continue response, or a reply to encode. */
type Outgoing =
  | Buffer
  | { readonly phase: typeof Phase.RequestHeaders; readonly reply: RequestHeadersReply }
  | { readonly phase: typeof Phase.ResponseHeaders; readonly reply: ResponseHeadersReply };

/** A message the codec rejected; delivered in-band so the stream can end with INVALID_ARGUMENT. */
class MalformedMessage {
  constructor(readonly error: unknown) {}
}
type Incoming = DecodedRequest | MalformedMessage;

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

class StreamCtx implements StreamContext {
  decision: unknown = undefined;
  constructor(readonly id: number) {}
}

/**
 * True when the peer reset the HTTP/2 stream (e.g. Envoy or a client cancelled).
 * Reads grpc-js internals; when they are not there, a half-closed stream counts as ok.
 */
function resetByPeer(call: object): boolean {
  const rst = (call as { call?: { stream?: { rstCode?: unknown } } }).call?.stream?.rstCode;
  return typeof rst === 'number' && rst !== 0;
}

const NOOP = (): void => {};
const NOOP_LOGGER: ExtProcLogger = { debug: NOOP, info: NOOP, warn: NOOP, error: NOOP } as unknown as ExtProcLogger;

export function createExtProcServer(opts: ExtProcServerOptions): ExtProcServer {
  const handler = opts.handler;
  const logger = opts.logger ?? NOOP_LOGGER;
  const address = opts.address ?? EXT_PROC_SERVER_DEFAULTS.address;
  const onStreamEnd = opts.onStreamEnd ?? NOOP;
  const onError = opts.onError ?? NOOP;
  const server = new grpc.Server(opts.grpcOptions);
  const health = new HealthImplementation(
    Object.fromEntries(EXT_PROC_SERVER_DEFAULTS.healthServices.map((s) => [s, 'SERVING' as const])),
  );
  health.addToServer(server);
  let nextStreamId = 0;
  let active = 0;
  let draining = false;
  let started = false;

  function onCall(call: grpc.ServerDuplexStream<Incoming, Outgoing>): void {
    const ctx = new StreamCtx(++nextStreamId);
    let sawRequestHeaders = false;
    let sawResponseHeaders = false;
    let finished = false;
    active++;

    const finish = (reason: StreamEndReason): void => {
      if (finished) return;
      finished = true;
      active--;
      try {
        handler.onStreamEnd(ctx, reason);
      } catch (e) {
        onError('handler', e);
        logger.error({ err: e, stream: ctx.id }, 'ext_proc handler onStreamEnd threw');
      }
      onStreamEnd(reason);
    };

    const failCall = (code: grpc.status, details: string): void => {
      finish('error');
      // grpc-js turns an emitted error into the call's final status.
      call.emit('error', { code, details });
    };

    if (draining) {
      failCall(grpc.status.UNAVAILABLE, 'draining');
      return;
    }

    const outOfOrder = (phase: Phase, msg: string): void => {
      onError('out_of_order', new BanditError(ErrorCodes.EXTPROC_OUT_OF_ORDER, msg));
      logger.debug({ stream: ctx.id, phase }, msg);
      call.write(CONTINUE_RESPONSE[phase]!);
    };

    call.on('data', (msg: Incoming) => {
      if (finished) return;
      if (msg instanceof MalformedMessage) {
        onError('malformed', msg.error);
        logger.warn({ err: msg.error, stream: ctx.id }, 'malformed ProcessingRequest');
        failCall(grpc.status.INVALID_ARGUMENT, 'malformed ProcessingRequest');
        return;
      }
      const phase = msg.phase;
      // Envoy ignores replies in observability mode; a decision here would never be applied.
      if (msg.observabilityMode) return;
      switch (phase) {
        case Phase.RequestHeaders: {
          if (sawRequestHeaders) return outOfOrder(phase, 'second request_headers on one stream');
          sawRequestHeaders = true;
          let reply: RequestHeadersReply | null;
          try {
            reply = handler.onRequestHeaders(msg, ctx);
          } catch (e) {
            onError('handler', e);
            logger.error({ err: e, stream: ctx.id }, 'ext_proc handler threw on request headers; continuing unchanged');
            reply = null;
          }
          call.write(reply ? { phase, reply } : CONTINUE_RESPONSE[phase]!);
          return;
        }
        case Phase.ResponseHeaders: {
          if (!sawRequestHeaders) return outOfOrder(phase, 'response_headers before request_headers');
          if (sawResponseHeaders) return outOfOrder(phase, 'second response_headers on one stream');
          sawResponseHeaders = true;
          let reply: ResponseHeadersReply | null;
          try {
            reply = handler.onResponseHeaders(msg, ctx);
          } catch (e) {
            onError('handler', e);
            logger.error({ err: e, stream: ctx.id }, 'ext_proc handler threw on response headers; continuing unchanged');
            reply = null;
          }
          call.write(reply && reply.set.length > 0 ? { phase, reply } : CONTINUE_RESPONSE[phase]!);
          return;
        }
        case Phase.None:
          onError('malformed', new ExtProcMalformedError('no request oneof set'));
          failCall(grpc.status.INVALID_ARGUMENT, 'ProcessingRequest without a request member');
          return;
        default:
          // Bodies and trailers are not configured; answer in kind so Envoy never sees a spurious message.
          onError('unexpected_phase', new BanditError(ErrorCodes.EXTPROC_OUT_OF_ORDER, `unexpected phase ${phase}`));
          call.write(CONTINUE_RESPONSE[phase]!);
      }
    });
    let halfClosed = false;
    // grpc-js emits 'cancelled' whenever the HTTP/2 stream closes, even after a
    // clean status, and a reset also ends the readable side first; the two are
    // told apart by the HTTP/2 RST code, known once 'cancelled' fires.
    const settle = (): void => finish(halfClosed && !resetByPeer(call) ? 'ok' : 'cancelled');
    call.on('end', () => {
      // Envoy half-closed: nothing more will come; answer with OK status.
      if (finished) return;
      halfClosed = true;
      call.end();
    });
    call.on('cancelled', settle);
    call.on('error', (e: unknown) => {
      if (!finished) logger.debug({ err: e, stream: ctx.id }, 'ext_proc stream error');
      finish('error');
    });
    // Safety net for streams torn down without a half-close; after a half-close
    // the Duplex closes before grpc-js has seen the RST code, so wait for 'cancelled'.
    call.on('close', () => {
      if (!halfClosed) settle();
    });
  }

  server.addService(EXT_PROC_SERVICE, { Process: onCall as grpc.handleBidiStreamingCall<Incoming, Outgoing> });

  function setServing(serving: boolean): void {
    for (const s of EXT_PROC_SERVER_DEFAULTS.healthServices) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
  }

  return {
    get activeStreams() {
      return active;
    },
    setServing,
    start() {
      if (started) return Promise.reject(new Error('ext_proc server already started'));
      started = true;
      return new Promise((resolve, reject) => {
        server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => {
          if (err) return reject(err);
          const bound = address.startsWith('unix:') ? address : `${address.slice(0, address.lastIndexOf(':'))}:${port}`;
          logger.info({ address: bound }, 'ext_proc server listening');
          resolve({ address: bound, port });
        });
      });
    },
    drain(timeoutMs = EXT_PROC_SERVER_DEFAULTS.drainTimeoutMs) {
      draining = true;
      setServing(false);
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn({ active }, 'ext_proc drain timed out; closing open streams');
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
    close() {
      draining = true;
      server.forceShutdown();
      return Promise.resolve();
    },
  };
}
