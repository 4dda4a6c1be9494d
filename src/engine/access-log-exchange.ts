import type { AccessLogEntry } from '../extproc/accesslog-codec.js';
import { NO_FLAGS, type Exchange, type ExchangeEnd } from '../reward/outcome.js';

const TIMEOUT_FLAGS = new Set(['UT', 'SI', 'DT', 'UMSDR']);
const CONNECT_FLAGS = new Set(['UF', 'UO', 'UH', 'NC', 'DF']);
const RESET_FLAGS = new Set(['UR', 'UC', 'LR', 'UPE']);
const CLIENT_GONE_FLAGS = new Set(['DC', 'DR']);

function endOf(e: AccessLogEntry): ExchangeEnd {
  let reset = false;
  let clientGone = false;
  for (const f of e.flags) {
    if (TIMEOUT_FLAGS.has(f)) return 'timeout';
    if (CONNECT_FLAGS.has(f)) return 'connect_failure';
    if (RESET_FLAGS.has(f)) reset = true;
    else if (CLIENT_GONE_FLAGS.has(f)) clientGone = true;
  }
  if (reset) return 'reset';
  // The client went away: a complete upstream response is still a complete exchange.
  if (clientGone && e.lastUpstreamRxMs === undefined) return e.ttfbMs === undefined ? 'no_response' : 'reset';
  if (e.status === 0) return 'no_response';
  return 'complete';
}

function grpcStatusOf(e: AccessLogEntry): [number | undefined, string | undefined] {
  // Trailers for a normal gRPC response; the response headers for a trailers-only one.
  const raw = e.responseTrailers.get('grpc-status') ?? e.responseHeaders.get('grpc-status');
  if (raw === undefined || raw === '') return [undefined, undefined];
  const code = Number(raw);
  if (!Number.isInteger(code) || code < 0) return [undefined, undefined];
  const msg = e.responseTrailers.get('grpc-message') ?? e.responseHeaders.get('grpc-message');
  let message = msg;
  if (msg !== undefined) {
    try {
      message = decodeURIComponent(msg);
    } catch {
      // keep the raw percent-encoded text
    }
  }
  return [code, message];
}

/**
 * The exchange an access-log entry describes. `elapsedMs` (time since the
 * decision) stands in for the total when Envoy logged no duration.
 */
export function exchangeFromAccessLog(e: AccessLogEntry, rewardHeader: string | null, elapsedMs: number): Exchange {
  const [grpcStatus, grpcMessage] = grpcStatusOf(e);
  return {
    status: e.status,
    grpcStatus,
    grpcMessage,
    ttfbMs: e.ttfbMs,
    totalMs: e.durationMs ?? e.lastDownstreamTxMs ?? elapsedMs,
    bytes: e.bodyBytes,
    flags: e.flags.length ? e.flags : NO_FLAGS,
    end: endOf(e),
    rewardHeader: rewardHeader ? e.responseHeaders.get(rewardHeader) : undefined,
  };
}
