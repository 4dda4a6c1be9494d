/**
 * The error catalogue: every error that crosses a module edge carries a stable
 * `code` (documented in the README) so logs, tests and API clients can match on it.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'EB_CONFIG_INVALID',
  CONFIG_READ: 'EB_CONFIG_READ',
  USAGE: 'EB_USAGE',
  EXTPROC_MALFORMED: 'EB_EXTPROC_MALFORMED',
  EXTPROC_OUT_OF_ORDER: 'EB_EXTPROC_OUT_OF_ORDER',
  EXTPROC_INTERNAL: 'EB_EXTPROC_INTERNAL',
  ADMIN_BAD_REQUEST: 'EB_ADMIN_BAD_REQUEST',
  ADMIN_UNAUTHORIZED: 'EB_ADMIN_UNAUTHORIZED',
  ADMIN_NOT_FOUND: 'EB_ADMIN_NOT_FOUND',
  ADMIN_METHOD: 'EB_ADMIN_METHOD_NOT_ALLOWED',
  ADMIN_TIMEOUT: 'EB_ADMIN_TIMEOUT',
  ADMIN_TOO_LARGE: 'EB_ADMIN_TOO_LARGE',
  ADMIN_INTERNAL: 'EB_ADMIN_INTERNAL',
  FEEDBACK_INVALID: 'EB_FEEDBACK_INVALID',
  STATE_CORRUPT: 'EB_STATE_CORRUPT',
  GOSSIP_AUTH: 'EB_GOSSIP_AUTH',
  AGGREGATOR_AUTH: 'EB_AGGREGATOR_AUTH',
  AGGREGATOR_INVALID: 'EB_AGGREGATOR_INVALID',
  AGGREGATOR_UNAVAILABLE: 'EB_AGGREGATOR_UNAVAILABLE',
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
