/**
 * What one request's exchange with an arm came to — the complete observation
 * the reward, the guardrails and delayed feedback judge — and the one function
 * that says whether it failed (`classifyExchange`). Producers (the ext_proc
 * response phase, Envoy's gRPC access log, the simulator) fill an `Exchange`;
 * nothing else decides success.
 */
import type { RouteConfig } from '../config/types.js';

/**
 * How the exchange ended:
 * - `complete`: a response reached its end (status, and trailers when any);
 * - `reset`: the stream was reset after the response started (mid-body);
 * - `timeout`: Envoy's route/per-try/idle timeout fired;
 * - `connect_failure`: no connection to the upstream (refused, unreachable, overflow);
 * - `no_response`: the stream ended before any response headers (client cancel,
 *   upstream reset before headers, an ext_proc stream closed early).
 */
export type ExchangeEnd = 'complete' | 'reset' | 'timeout' | 'connect_failure' | 'no_response';
export const EXCHANGE_ENDS: readonly ExchangeEnd[] = ['complete', 'reset', 'timeout', 'connect_failure', 'no_response'];

export interface Exchange {
  /** Final HTTP status the client got (Envoy's local replies included); 0 when none. */
  status: number;
  /** `grpc-status` from the trailers or a trailers-only response; undefined when not gRPC or not seen. */
  grpcStatus: number | undefined;
  grpcMessage: string | undefined;
  /** Request start → first response byte from the upstream (ms); undefined when none came. */
  ttfbMs: number | undefined;
  /** Request start → end of the exchange (ms), whatever ended it. */
  totalMs: number;
  /** Response body bytes sent to the client; undefined when unknown. */
  bytes: number | undefined;
  /** Envoy response flags in their short form (`UF`, `UT`, `UR`, `UC`, `UO`, `URX`, `DC`, …); empty when none. */
  flags: readonly string[];
  end: ExchangeEnd;
  /** Raw value of the route's reward header, when the backend sent it. */
  rewardHeader: string | undefined;
}

/** Why an exchange counts against its arm ('' when it did not fail). */
export type FailureReason = '' | 'status' | 'grpc_status' | 'timeout' | 'reset' | 'connect_failure' | 'no_response' | 'upstream_flag';

/** Envoy response flags that always mean the upstream (the arm) failed this request. */
export const UPSTREAM_FAILURE_FLAGS: ReadonlySet<string> = new Set(['UF', 'UH', 'UT', 'UR', 'UC', 'UO', 'URX', 'UPE', 'UMSDR', 'NC', 'DF']);

/** Per-route compiled success rules (built once per config by the route runtime). */
export interface SuccessRules {
  isSuccessStatus(status: number): boolean;
  isSuccessGrpc(code: number): boolean;
}

/** A compiled success-status matcher: exact codes and `Nxx` classes. */
export function compileStatusMatcher(patterns: readonly string[]): (status: number) => boolean {
  const exact = new Set<number>();
  const classes = new Set<number>();
  for (const p of patterns) {
    if (/^[1-5]xx$/i.test(p)) classes.add(Number(p[0]));
    else exact.add(Number(p));
  }
  return (status) => exact.has(status) || classes.has(Math.floor(status / 100));
}

export function compileSuccessRules(reward: RouteConfig['reward']): SuccessRules {
  const grpc = new Set(reward.success.grpc_statuses);
  return { isSuccessStatus: compileStatusMatcher(reward.success.statuses), isSuccessGrpc: (c) => grpc.has(c) };
}

/**
 * THE classification of an exchange: does it count against the arm, and why.
 * Order: how it ended (timeouts, resets, connect failures and streams without
 * a response are failures whatever the status said), then Envoy's upstream
 * failure flags, then the HTTP status (outside the success set, or any 5xx),
 * then the gRPC status (outside the success set).
 */
export function classifyExchange(rules: SuccessRules, ex: Exchange): FailureReason {
  switch (ex.end) {
    case 'timeout':
      return 'timeout';
    case 'reset':
      return 'reset';
    case 'connect_failure':
      return 'connect_failure';
    case 'no_response':
      return 'no_response';
    default:
  }
  for (const f of ex.flags) if (UPSTREAM_FAILURE_FLAGS.has(f)) return 'upstream_flag';
  if (!rules.isSuccessStatus(ex.status) || ex.status >= 500) return 'status';
  if (ex.grpcStatus !== undefined && !rules.isSuccessGrpc(ex.grpcStatus)) return 'grpc_status';
  return '';
}

/** The latency the reward scores: time to first byte or total duration (per route), total when no byte came. */
export function scoredLatencyMs(measure: 'ttfb' | 'total', ex: Exchange): number {
  return measure === 'ttfb' && ex.ttfbMs !== undefined ? ex.ttfbMs : ex.totalMs;
}

/** An exchange from a plain response (status and latency only), as the simulator and tests produce them. */
export function simpleExchange(status: number, latencyMs: number, rewardHeader?: string): Exchange {
  return {
    status,
    grpcStatus: undefined,
    grpcMessage: undefined,
    ttfbMs: latencyMs,
    totalMs: latencyMs,
    bytes: undefined,
    flags: NO_FLAGS,
    end: status > 0 ? 'complete' : 'no_response',
    rewardHeader,
  };
}

export const NO_FLAGS: readonly string[] = Object.freeze([]);
