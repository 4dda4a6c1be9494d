/**
 * Who is to blame for an outcome: the arm (its backend) or the caller. Only
 * arm errors feed the guardrails' error-rate rules, so a client sending bad
 * requests (413, 400, gRPC INVALID_ARGUMENT) cannot quarantine a healthy arm.
 * This is the one place that rule lives.
 *
 * Arm errors by default:
 * - HTTP 5xx, including Envoy's own local replies for upstream failures
 *   (503 connect failure / overflow / reset, 504 timeout);
 * - status 0: the exchange ended without a valid status (reset, timeout,
 *   stream that never got headers);
 * - a gRPC status that is the server's fault (SERVER_GRPC_CODES).
 * Client errors — HTTP 4xx and the gRPC codes that describe the request
 * (CLIENT_GRPC_CODES) — are arm errors only when the route opts in with
 * `guardrails.count_client_errors: true`. Everything else (1xx–3xx, and 2xx
 * outside a route's reward success set) is not an arm error: the success set
 * shapes the reward, not the blame.
 */

/** gRPC codes that mean the server failed: UNKNOWN, DEADLINE_EXCEEDED, ABORTED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. */
export const SERVER_GRPC_CODES: ReadonlySet<number> = new Set([2, 4, 10, 12, 13, 14, 15]);
/**
 * gRPC codes that describe the request or the caller: CANCELLED, INVALID_ARGUMENT,
 * NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED (quota),
 * FAILED_PRECONDITION, OUT_OF_RANGE, UNAUTHENTICATED.
 */
export const CLIENT_GRPC_CODES: ReadonlySet<number> = new Set([1, 3, 5, 6, 7, 8, 9, 11, 16]);

/** What the classification reads from an outcome (the engine's Outcome satisfies it). */
export interface BlameInput {
  /** HTTP status; 0 when the exchange produced none (reset, timeout, no headers). */
  status: number;
  /** The gRPC status from trailers or a trailers-only response, when the exchange was gRPC. */
  grpcStatus?: number | null;
}

export interface BlamePolicy {
  /** Count client errors (HTTP 4xx, gRPC client codes) against the arm too. */
  count_client_errors: boolean;
}

export type Blame = 'arm' | 'client' | 'none';

/** Whose fault the outcome is. Pure; allocates nothing. */
export function blame(o: BlameInput): Blame {
  const s = o.status;
  if (!(s >= 100 && s <= 599)) return 'arm';
  if (s >= 500) return 'arm';
  if (s >= 400) return 'client';
  const g = o.grpcStatus;
  if (g === undefined || g === null || g === 0) return 'none';
  if (SERVER_GRPC_CODES.has(g)) return 'arm';
  if (CLIENT_GRPC_CODES.has(g)) return 'client';
  // An unknown (out of range) gRPC code: the server sent something invalid.
  return 'arm';
}

/** Whether the outcome counts as the arm's error under the route's policy. */
export function isArmError(o: BlameInput, policy: BlamePolicy): boolean {
  const b = blame(o);
  return b === 'arm' || (b === 'client' && policy.count_client_errors);
}
