/**
 * The ext_proc protocol rules for one stream, independent of the gRPC
 * transport: answer each phase in kind (never a mismatched oneof), call the
 * handler at most once per header phase, fail open when it throws, stay silent
 * in observability mode, and end the stream exactly once.
 */
import { BanditError, ErrorCodes } from '../util/errors.js';
import { DecodedRequest, ExtProcMalformedError, Phase } from './codec.js';
import type { ExtProcHandler, RequestBodyReply, RequestHeadersReply, ResponseHeadersReply, StreamContext, StreamEndReason } from './handler.js';

export type ExtProcErrorKind = 'malformed' | 'out_of_order' | 'handler' | 'unexpected_phase';

/** The subset of a pino logger the server uses. */
export interface ExtProcLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A message the codec rejected; delivered in-band so the stream can end with INVALID_ARGUMENT. */
export class MalformedMessage {
  constructor(readonly error: unknown) {}
}
export type Incoming = DecodedRequest | MalformedMessage;

/** What the transport must do with a message. */
export const Action = {
  /** Send nothing (observability mode). */
  None: 0,
  /** Send the precomputed continue response for `stream.constPhase`. */
  Constant: 1,
  /** Encode and send `stream.requestReply`. */
  RequestReply: 2,
  /** Encode and send `stream.responseReply`. */
  ResponseReply: 3,
  /** End the call with INVALID_ARGUMENT (`stream.failDetails`). */
  Fail: 4,
  /** Encode and send `stream.bodyReply`. */
  BodyReply: 5,
} as const;
export type Action = (typeof Action)[keyof typeof Action];

export interface StreamHooks<D = unknown> {
  handler: ExtProcHandler<D>;
  logger: ExtProcLogger;
  onError(kind: ExtProcErrorKind, err: unknown): void;
  onStreamEnd(outcome: StreamEndReason): void;
}

export class ExtProcStream<D = unknown> implements StreamContext<D> {
  decision: D | undefined = undefined;
  sawRequestHeaders = false;
  sawResponseHeaders = false;
  finished = false;
  /** Outputs of the last `handle` call, by action (Constant: the phase to continue). */
  constPhase: Phase = Phase.RequestHeaders;
  requestReply: RequestHeadersReply | null = null;
  responseReply: ResponseHeadersReply | null = null;
  bodyReply: RequestBodyReply | null = null;
  sawRequestBody = false;
  failDetails = '';

  constructor(
    readonly id: number,
    private readonly hooks: StreamHooks<D>,
  ) {}

  handle(msg: Incoming): Action {
    if (this.finished) return Action.None;
    const { hooks } = this;
    if (msg instanceof MalformedMessage) {
      hooks.onError('malformed', msg.error);
      hooks.logger.warn({ err: msg.error, stream: this.id }, 'malformed ProcessingRequest');
      this.failDetails = 'malformed ProcessingRequest';
      return Action.Fail;
    }
    // Envoy ignores replies in observability mode; a decision here would never be applied.
    if (msg.observabilityMode) return Action.None;
    const phase = msg.phase;
    switch (phase) {
      case Phase.RequestHeaders: {
        if (this.sawRequestHeaders) return this.outOfOrder(phase, 'second request_headers on one stream');
        this.sawRequestHeaders = true;
        let reply: RequestHeadersReply | null = null;
        try {
          reply = hooks.handler.onRequestHeaders(msg, this);
        } catch (e) {
          this.handlerThrew(e, 'request headers');
        }
        if (!reply) return this.constant(phase);
        this.requestReply = reply;
        return Action.RequestReply;
      }
      case Phase.ResponseHeaders: {
        if (!this.sawRequestHeaders) return this.outOfOrder(phase, 'response_headers before request_headers');
        if (this.sawResponseHeaders) return this.outOfOrder(phase, 'second response_headers on one stream');
        this.sawResponseHeaders = true;
        let reply: ResponseHeadersReply | null = null;
        try {
          reply = hooks.handler.onResponseHeaders(msg, this);
        } catch (e) {
          this.handlerThrew(e, 'response headers');
        }
        if (!reply || reply.set.length === 0) return this.constant(phase);
        this.responseReply = reply;
        return Action.ResponseReply;
      }
      case Phase.RequestBody: {
        if (!this.sawRequestHeaders) return this.outOfOrder(phase, 'request_body before request_headers');
        // Buffered modes send the body once; anything after is streamed chunks we pass through.
        if (this.sawRequestBody || !hooks.handler.onRequestBody) return this.constant(phase);
        this.sawRequestBody = true;
        let reply: RequestBodyReply | null = null;
        try {
          reply = hooks.handler.onRequestBody(msg.body(), msg.endOfStream, this);
        } catch (e) {
          this.handlerThrew(e, 'request body');
        }
        if (!reply) return this.constant(phase);
        this.bodyReply = reply;
        return Action.BodyReply;
      }
      case Phase.None:
        hooks.onError('malformed', new ExtProcMalformedError('no request oneof set'));
        this.failDetails = 'ProcessingRequest without a request member';
        return Action.Fail;
      default:
        // Bodies and trailers are not configured; answer in kind so Envoy never sees a spurious message.
        hooks.onError('unexpected_phase', new BanditError(ErrorCodes.EXTPROC_OUT_OF_ORDER, `unexpected phase ${phase}`));
        return this.constant(phase);
    }
  }

  /**
   * Ends the stream once. `halfClosed`: the peer ended its side cleanly.
   * Envoy (1.37+, observed on 1.40) never half-closes: it resets the stream once
   * the response headers are answered, so a reset after that point is a normal
   * end ('ok'); a reset before it means the HTTP request went away early.
   */
  end(how: 'half-closed' | 'reset' | 'error'): void {
    if (this.finished) return;
    this.finished = true;
    const answered = this.sawResponseHeaders || (this.sawRequestHeaders && this.hooks.handler.requestOnly === true);
    const reason: StreamEndReason = how === 'error' ? 'error' : how === 'half-closed' || answered ? 'ok' : 'cancelled';
    try {
      this.hooks.handler.onStreamEnd(this, reason);
    } catch (e) {
      this.hooks.onError('handler', e);
      this.hooks.logger.error({ err: e, stream: this.id }, 'ext_proc handler onStreamEnd threw');
    }
    this.hooks.onStreamEnd(reason);
  }

  private constant(phase: Phase): Action {
    this.constPhase = phase;
    return Action.Constant;
  }

  private outOfOrder(phase: Phase, msg: string): Action {
    this.hooks.onError('out_of_order', new BanditError(ErrorCodes.EXTPROC_OUT_OF_ORDER, msg));
    this.hooks.logger.debug({ stream: this.id, phase }, msg);
    return this.constant(phase);
  }

  private handlerThrew(e: unknown, where: string): void {
    this.hooks.onError('handler', e);
    this.hooks.logger.error({ err: e, stream: this.id }, `ext_proc handler threw on ${where}; continuing unchanged`);
  }
}
