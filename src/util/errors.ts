/**
 * The error catalogue and the one error shape at module edges.
 *
 * The rule: a function at a module edge whose failure is an outcome of its
 * input (parse or verify untrusted data, read a file, check a peer) returns
 * `Result<T, BanditError>`; the caller must look at it, and a failure is a
 * value with a stable `code`, never an exception to remember to catch. Only
 * start-up and lifecycle calls (`start()`, a constructor handed a validated
 * config) throw, and what they throw is a `BanditError`: their one caller is
 * the command, which turns it into exit code 2. A broken internal invariant
 * throws `BanditError(EB_INTERNAL)` via `invariant()`. Plain `new Error` is
 * not used under src/ outside src/tools/ (an ESLint rule keeps it so).
 *
 * Every code is documented in the README's "Error codes" table and used in
 * src/ (test/util/errors.test.ts checks both), so logs, tests and API clients
 * can match on it. Codes are `EB_` + upper snake case and never change
 * meaning once shipped. Routine failures on a hot path (a bad decision id)
 * return preallocated errors: no stack is captured per request.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'EB_CONFIG_INVALID',
  CONFIG_READ: 'EB_CONFIG_READ',
  USAGE: 'EB_USAGE',
  SETUP: 'EB_SETUP',
  INTERNAL: 'EB_INTERNAL',
  EXTPROC_MALFORMED: 'EB_EXTPROC_MALFORMED',
  EXTPROC_OUT_OF_ORDER: 'EB_EXTPROC_OUT_OF_ORDER',
  ADMIN_BAD_REQUEST: 'EB_ADMIN_BAD_REQUEST',
  ADMIN_UNAUTHORIZED: 'EB_ADMIN_UNAUTHORIZED',
  ADMIN_NOT_FOUND: 'EB_ADMIN_NOT_FOUND',
  ADMIN_METHOD: 'EB_ADMIN_METHOD_NOT_ALLOWED',
  ADMIN_TIMEOUT: 'EB_ADMIN_TIMEOUT',
  ADMIN_TOO_LARGE: 'EB_ADMIN_TOO_LARGE',
  FEEDBACK_INVALID: 'EB_FEEDBACK_INVALID',
  DECISION_ID_INVALID: 'EB_DECISION_ID_INVALID',
  STATE_CORRUPT: 'EB_STATE_CORRUPT',
  GOSSIP_AUTH: 'EB_GOSSIP_AUTH',
  REWARD_STREAM_AUTH: 'EB_REWARD_STREAM_AUTH',
  REWARD_BATCH_INVALID: 'EB_REWARD_BATCH_INVALID',
  REWARD_LOG_UNAVAILABLE: 'EB_REWARD_LOG_UNAVAILABLE',
  AGGREGATOR_UNAVAILABLE: 'EB_AGGREGATOR_UNAVAILABLE',
  DECISION_LOG_WRITE: 'EB_DECISION_LOG_WRITE',
  NOTIFY_REFUSED: 'EB_NOTIFY_REFUSED',
  NOTIFY_UNREACHABLE: 'EB_NOTIFY_UNREACHABLE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class BanditError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'BanditError';
  }
}

export type Result<T, E = BanditError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** Throws `BanditError(EB_INTERNAL)` when an internal invariant does not hold (a bug, not bad input). */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new BanditError(ErrorCodes.INTERNAL, message);
}
