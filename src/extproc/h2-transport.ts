/**
 * A minimal gRPC-over-HTTP/2 transport on node:http2 for exactly the calls the
 * sidecar serves: the ext_proc bidi stream, Envoy's access-log client stream and
 * grpc.health.v1 Check. It skips
 * grpc-js's generic per-call machinery (interceptor chain, metadata objects,
 * object-mode Duplex, a promise per message), which is where a grpc-js ext_proc
 * server spends most of its CPU. The protocol rules are shared with the grpc-js
 * transport (stream-logic.ts); the wire is checked against grpc-js clients and
 * real Envoy in the tests.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { listenAddress } from '../util/address.js';
import { CONTINUE_RESPONSE, decodeProcessingRequest, encodeRequestBodyResponse, encodeRequestHeadersResponse, encodeResponseHeadersResponse } from './codec.js';
import { ACCESS_LOG_METHOD_PATH, ACCESS_LOG_RESPONSE, decodeStreamAccessLogsMessage } from './accesslog-codec.js';
import { EXT_PROC_METHOD_PATH } from './proto-files.js';
import { Action, ExtProcStream, MalformedMessage, type Incoming, type StreamHooks } from './stream-logic.js';
import { BanditError, ErrorCodes } from '../util/errors.js';

export const H2_TRANSPORT_DEFAULTS = {
  /** Same default as grpc-js: 4 MiB per message. */
  maxMessageBytes: 4 * 1024 * 1024,
  /**
   * Per-connection nghttp2 memory cap (MB). Node's default (10) can refuse
   * streams with ENHANCE_YOUR_CALM when one Envoy connection multiplexes
   * thousands of concurrent requests.
   */
  maxSessionMemoryMb: 64,
} as const;

const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
const GRPC_CONTENT_TYPE = 'application/grpc';
/** gRPC status codes used here. */
const Code = { OK: 0, INVALID_ARGUMENT: 3, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14 } as const;
/** HealthCheckResponse.ServingStatus */
const SERVING = 1;
const NOT_SERVING = 2;

const NOOP = (): void => {};
const RESPONSE_HEADERS = { ':status': 200, 'content-type': GRPC_CONTENT_TYPE };
const OK_TRAILERS = { 'grpc-status': '0' };

/**
 * Envoy ends every ext_proc stream it has had its answer on with
 * RST_STREAM(INTERNAL_ERROR) (observed on 1.40). node:http2 turns any reset code
 * other than NO_ERROR/CANCEL into an ERR_HTTP2_STREAM_ERROR, and the stream
 * machinery then formats its stack (`err.stack` in streams' destroy): a stack
 * capture and a formatted trace per request, for a routine event. The stream's
 * 'aborted' event fires synchronously inside the same native callback just
 * before that Error is built, so stack capture is switched off there and
 * restored in the next microtask, i.e. once the callback has returned. The
 * Error still exists (and is dropped by our 'error' listener); it just costs no
 * trace.
 */
let stackLimitSaved: number | null = null;
function restoreStackLimit(): void {
  if (stackLimitSaved !== null) Error.stackTraceLimit = stackLimitSaved;
  stackLimitSaved = null;
}
function noStacksUntilMicrotask(): void {
  if (stackLimitSaved !== null) return;
  stackLimitSaved = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  queueMicrotask(restoreStackLimit);
}

/** Length-prefixed gRPC frame: 1 byte compressed flag (0), 4 bytes big-endian length. */
function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(message.length + 5);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** Framed continue responses, by phase. */
const FRAMED_CONTINUE: Readonly<Record<number, Buffer>> = Object.fromEntries(
  Object.entries(CONTINUE_RESPONSE).map(([phase, msg]) => [Number(phase), frame(msg)]),
);

function deserialize(buf: Buffer): Incoming {
  try {
    return decodeProcessingRequest(buf);
  } catch (e) {
    return new MalformedMessage(e);
  }
}

/** The per-call state on its HTTP/2 stream, so the stream's listeners can be shared functions (no closures per stream). */
const kCall = Symbol('envoy-bandit call');
type CallStream = http2.ServerHttp2Stream & { [kCall]?: CallWriter };

const RESPOND_OPTIONS = { waitForTrailers: true };
function sendStatusTrailers(this: CallStream): void {
  this.sendTrailers(this[kCall]!.status);
}

/** Writes responses and the final status on one HTTP/2 stream. */
class CallWriter {
  private headersSent = false;
  private statusSent = false;
  status: Record<string, string> = OK_TRAILERS;

  constructor(protected readonly stream: CallStream) {
    stream[kCall] = this;
  }

  write(framed: Buffer): void {
    if (this.statusSent || this.stream.destroyed) return;
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond(RESPONSE_HEADERS, RESPOND_OPTIONS);
      this.stream.once('wantTrailers', sendStatusTrailers);
    }
    this.stream.write(framed);
  }

  /** Ends the call with a gRPC status (trailers-only when nothing was sent yet). */
  finish(code: number, message?: string): void {
    if (this.statusSent || this.stream.destroyed) return;
    this.statusSent = true;
    const status: Record<string, string> = code === Code.OK && !message ? OK_TRAILERS : { 'grpc-status': String(code) };
    if (message) status['grpc-message'] = encodeURIComponent(message);
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond({ ...RESPONSE_HEADERS, ...status }, { endStream: true });
    } else {
      this.status = status;
      this.stream.end();
    }
  }
}

/** Receives what a FrameReader splits out of the DATA frames. */
interface FrameSink {
  onMessage(msg: Buffer): void;
  onFrameError(code: number, message: string): void;
}

/** Splits incoming DATA into gRPC messages for a sink; reports bad framing. */
class FrameReader {
  private pending: Buffer | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly sink: FrameSink,
  ) {}

  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 5) {
      const compressed = buf[off]!;
      const len = buf.readUInt32BE(off + 1);
      if (len > this.maxBytes) return this.sink.onFrameError(Code.RESOURCE_EXHAUSTED, `message larger than ${this.maxBytes} bytes`);
      if (buf.length - off - 5 < len) break;
      if (compressed !== 0) return this.sink.onFrameError(Code.UNIMPLEMENTED, 'compressed messages are not supported');
      const msg = buf.subarray(off + 5, off + 5 + len);
      off += 5 + len;
      this.sink.onMessage(msg);
    }
    this.pending = off < buf.length ? buf.subarray(off) : null;
  }
}

/**
 * One ext_proc call: the stream's writer, its frame reader's sink and the
 * protocol state. Three objects per HTTP request (this, its reader, the
 * ExtProcStream) and shared listeners.
 */
class ExtProcCall extends CallWriter implements FrameSink {
  halfClosed = false;
  readonly reader: FrameReader;

  constructor(
    stream: CallStream,
    readonly s: ExtProcStream,
    maxBytes: number,
    private readonly hooks: StreamHooks,
  ) {
    super(stream);
    this.reader = new FrameReader(maxBytes, this);
  }

  onMessage(buf: Buffer): void {
    const s = this.s;
    switch (s.handle(deserialize(buf))) {
      case Action.Constant:
        this.write(FRAMED_CONTINUE[s.constPhase]!);
        return;
      case Action.RequestReply:
        this.write(frame(encodeRequestHeadersResponse(s.requestReply!)));
        return;
      case Action.ResponseReply:
        this.write(frame(encodeResponseHeadersResponse(s.responseReply!)));
        return;
      case Action.BodyReply:
        this.write(frame(encodeRequestBodyResponse(s.bodyReply!.body)));
        s.bodyReply = null;
        return;
      case Action.Fail:
        this.fail(Code.INVALID_ARGUMENT, s.failDetails);
        return;
      default:
    }
  }

  onFrameError(code: number, message: string): void {
    this.hooks.onError('malformed', new BanditError(ErrorCodes.EXTPROC_MALFORMED, message));
    this.fail(code, message);
  }

  fail(code: number, message: string): void {
    this.s.end('error');
    this.finish(code, message);
  }
}

function onExtProcData(this: CallStream, chunk: Buffer): void {
  const call = this[kCall] as ExtProcCall;
  if (!call.s.finished) call.reader.push(chunk);
}
function onExtProcEnd(this: CallStream): void {
  const call = this[kCall] as ExtProcCall;
  call.halfClosed = true;
  call.finish(Code.OK);
}
function onExtProcClose(this: CallStream): void {
  const call = this[kCall] as ExtProcCall;
  call.s.end(call.halfClosed && this.rstCode === http2.constants.NGHTTP2_NO_ERROR ? 'half-closed' : 'reset');
}

export interface H2TransportOptions {
  address: string;
  maxMessageBytes?: number;
  healthServices: readonly string[];
  newStream(): ExtProcStream;
  hooks: StreamHooks;
}

export interface H2Transport {
  start(): Promise<{ address: string; port: number }>;
  setServing(serving: boolean): void;
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export function createH2Transport(opts: H2TransportOptions): H2Transport {
  const maxBytes = opts.maxMessageBytes ?? H2_TRANSPORT_DEFAULTS.maxMessageBytes;
  const health = new Map<string, number>(opts.healthServices.map((s) => [s, SERVING]));
  const sessions = new Set<http2.ServerHttp2Session>();
  let draining = false;
  const server = http2.createServer({ maxSessionMemory: H2_TRANSPORT_DEFAULTS.maxSessionMemoryMb });

  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {}); // surfaced as stream closes
  });
  server.on('sessionError', () => {});

  function serveExtProc(stream: http2.ServerHttp2Stream): void {
    new ExtProcCall(stream, opts.newStream(), maxBytes, opts.hooks);
    stream.on('data', onExtProcData);
    stream.on('end', onExtProcEnd);
    stream.on('close', onExtProcClose);
  }

  /** Envoy's gRPC access log: a client stream of batches, answered once with an empty message when Envoy ends it. */
  function serveAccessLog(stream: http2.ServerHttp2Stream): void {
    const writer = new CallWriter(stream);
    const reader = new FrameReader(maxBytes, {
      onMessage(buf) {
        let entries;
        try {
          entries = decodeStreamAccessLogsMessage(buf);
        } catch (e) {
          opts.hooks.onError('malformed', e);
          writer.finish(Code.INVALID_ARGUMENT, 'malformed StreamAccessLogsMessage');
          return;
        }
        try {
          opts.hooks.handler.onAccessLog?.(entries);
        } catch (e) {
          opts.hooks.onError('handler', e);
          opts.hooks.logger.error({ err: e }, 'access-log handler threw');
        }
      },
      onFrameError(code, message) {
        opts.hooks.onError('malformed', new BanditError(ErrorCodes.EXTPROC_MALFORMED, message));
        writer.finish(code, message);
      },
    });
    stream.on('data', (chunk: Buffer) => reader.push(chunk));
    stream.on('end', () => {
      writer.write(frame(ACCESS_LOG_RESPONSE));
      writer.finish(Code.OK);
    });
  }

  function serveHealthCheck(stream: http2.ServerHttp2Stream): void {
    const writer = new CallWriter(stream);
    let request: Buffer | null = null;
    const reader = new FrameReader(1024, {
      onMessage(msg) {
        request = Buffer.from(msg);
      },
      onFrameError: (code, message) => writer.finish(code, message),
    });
    stream.on('data', (c: Buffer) => reader.push(c));
    stream.on('error', () => {});
    stream.on('end', () => {
      const service = request ? healthServiceName(request) : '';
      const status = health.get(service);
      if (status === undefined) return writer.finish(Code.NOT_FOUND, 'unknown service');
      writer.write(frame(Buffer.from([0x08, status])));
      writer.finish(Code.OK);
    });
  }

  server.on('stream', (stream, headers) => {
    stream.on('error', NOOP); // a reset surfaces as 'close'; never let it throw
    stream.on('aborted', noStacksUntilMicrotask);
    const path = headers[':path'];
    const contentType = String(headers['content-type'] ?? '');
    if (!contentType.startsWith(GRPC_CONTENT_TYPE)) {
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    if (path === EXT_PROC_METHOD_PATH) {
      if (draining) return new CallWriter(stream).finish(Code.UNAVAILABLE, 'draining');
      serveExtProc(stream);
    } else if (path === ACCESS_LOG_METHOD_PATH) {
      serveAccessLog(stream);
    } else if (path === HEALTH_CHECK_PATH) {
      serveHealthCheck(stream);
    } else {
      new CallWriter(stream).finish(Code.UNIMPLEMENTED, `unknown method ${String(path)}`);
    }
  });

  return {
    start() {
      const addr = listenAddress(opts.address);
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        const done = () => {
          server.off('error', reject);
          if (addr.kind === 'unix') return resolve({ address: opts.address, port: 0 });
          const port = (server.address() as AddressInfo).port;
          const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
          resolve({ address: `${host}:${port}`, port });
        };
        if (addr.kind === 'unix') server.listen(addr.path, done);
        else server.listen(addr.port, addr.host, done);
      });
    },
    setServing(serving) {
      for (const s of health.keys()) health.set(s, serving ? SERVING : NOT_SERVING);
    },
    drain(timeoutMs) {
      draining = true;
      this.setServing(false);
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, timeoutMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // GOAWAY: open streams finish, no new ones on these connections.
        for (const s of sessions) s.close();
      });
    },
    close() {
      draining = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      });
    },
  };
}

/** HealthCheckRequest.service (field 1, string); '' when absent or unreadable. */
function healthServiceName(buf: Buffer): string {
  if (buf.length >= 2 && buf[0] === 0x0a && buf[1]! < 0x80 && buf.length >= 2 + buf[1]!) {
    return buf.toString('utf8', 2, 2 + buf[1]!);
  }
  return '';
}
