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

export type StreamEndReason = 'ok' | 'cancelled' | 'error';

export interface ExtProcHandler<D = unknown> {
  onRequestHeaders(headers: HeaderList, stream: StreamContext<D>): RequestHeadersReply | null;
  onResponseHeaders(headers: HeaderList, stream: StreamContext<D>): ResponseHeadersReply | null;
  /** Always called once per stream, whatever ended it. */
  onStreamEnd(stream: StreamContext<D>, reason: StreamEndReason): void;
}
