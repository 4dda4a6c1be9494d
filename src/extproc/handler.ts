/**
 * The seam between the Envoy protocol adapter (this folder) and the decision
 * engine. The adapter decodes ProcessingRequests into `HeaderList`s, calls the
 * handler synchronously, and encodes what it returns. The handler never sees
 * protobuf; the adapter never sees policies.
 */

/**
 * Headers as Envoy sent them: lower-case names (pseudo-headers included, e.g.
 * `:path`, `:authority`, `:status`), values decoded from `raw_value` as latin1.
 * Repeated headers appear as repeated entries; `get` returns the first.
 */
export interface HeaderList {
  readonly length: number;
  name(i: number): string;
  value(i: number): string;
  get(name: string): string | undefined;
}

/** Per-stream scratch the adapter creates and hands back on every call; `D` is what the handler keeps per stream. */
export interface StreamContext<D = unknown> {
  /** Monotonic stream number within this process (for logs). */
  readonly id: number;
  /** Set by the handler on request headers; read back on response headers. */
  decision: D | undefined;
}

export type HeaderEdit = readonly [name: string, value: string];

/** Reply to `request_headers`. `null` means continue unchanged (unmatched route). */
export interface RequestHeadersReply {
  set: readonly HeaderEdit[];
  remove: readonly string[];
  clearRouteCache: boolean;
}

/** Reply to `response_headers`: headers to add to the response sent to the client. */
export interface ResponseHeadersReply {
  set: readonly HeaderEdit[];
}

/** Reply to `request_body` (buffered): the body Envoy forwards instead. `null`: unchanged. */
export interface RequestBodyReply {
  body: Buffer;
}

/** One HTTP entry of Envoy's gRPC access log, as much of it as the sidecar reads (accesslog-codec.ts decodes it). */
export interface AccessLogEntry {
  /** `response_code`; 0 when Envoy sent none (the downstream went away first). */
  status: number;
  /** Request headers Envoy was configured to log (`additional_request_headers_to_log`), lower-case names. */
  requestHeaders: Map<string, string>;
  /** Response headers configured to be logged (`grpc-status` of a trailers-only response is here). */
  responseHeaders: Map<string, string>;
  /** Response trailers configured to be logged (`grpc-status`, `grpc-message`). */
  responseTrailers: Map<string, string>;
  /** Downstream start → first upstream response byte (ms); undefined when none came. */
  ttfbMs: number | undefined;
  /** Downstream start → last upstream response byte (ms); undefined when the upstream never finished. */
  lastUpstreamRxMs: number | undefined;
  /** Downstream start → last downstream byte sent (ms). */
  lastDownstreamTxMs: number | undefined;
  /** Total duration of the stream (ms). */
  durationMs: number | undefined;
  /** `response_body_bytes`. */
  bodyBytes: number;
  /** Response flags in Envoy's short form (`UF`, `UT`, …). */
  flags: string[];
  /** `response_code_details` (e.g. `upstream_reset_before_response_started{connection_refused}`). */
  details: string;
  /** An intermediate (periodic) entry of a long stream; the final one follows. */
  intermediate: boolean;
}

export type StreamEndReason = 'ok' | 'cancelled' | 'error';

export interface ExtProcHandler<D = unknown> {
  /**
   * True when Envoy is configured to send request headers only (outcomes come
   * from the access log): a stream that ends after its request-headers answer
   * ended normally.
   */
  readonly requestOnly?: boolean;
  /** Entries from Envoy's gRPC access-log stream, one batch per message. */
  onAccessLog?(entries: readonly AccessLogEntry[]): void;
  onRequestHeaders(headers: HeaderList, stream: StreamContext<D>): RequestHeadersReply | null;
  onResponseHeaders(headers: HeaderList, stream: StreamContext<D>): ResponseHeadersReply | null;
  /**
   * A buffered request body (only on Envoy routes that buffer it). `body` is a
   * view on the wire message, valid during the call; `endOfStream` false means
   * Envoy sent what fitted its buffer and the rest follows unseen.
   */
  onRequestBody?(body: Buffer, endOfStream: boolean, stream: StreamContext<D>): RequestBodyReply | null;
  /** Always called once per stream, whatever ended it. */
  onStreamEnd(stream: StreamContext<D>, reason: StreamEndReason): void;
}
