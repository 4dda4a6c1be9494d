/** Defaults and bounds of `envoy-bandit loadtest`, in one place. */
import { EXIT_LIMIT_EXCEEDED, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE } from '../../util/exit-codes.js';
import { DEFAULT_STICKY_HEADER } from '../../config/defaults.js';

export const LOADTEST_DEFAULTS = {
  rps: 10,
  durationMs: 30_000,
  concurrency: 64,
  sessions: 100,
  /** Per request: the chance its session is replaced by a new one (new users keep arriving). */
  churn: 0.01,
  sessionHeader: DEFAULT_STICKY_HEADER,
  timeoutMs: 60_000,
  /** Progress line period on a terminal; off a terminal (CI logs) every fifth tick. */
  progressMs: 1_000,
  seed: 1,
  /** How long the reachability check before the run may take. */
  connectCheckMs: 3_000,
} as const;

export const LOADTEST_LIMITS = {
  maxRps: 100_000,
  maxDurationMs: 24 * 3_600_000,
  maxRequests: 10_000_000,
  maxConcurrency: 10_000,
  maxSessions: 10_000_000,
  maxBodyBytes: 64 * 1024 * 1024,
  /** Sessions with more than one arm listed by name in the report (all are counted). */
  violationExamples: 10,
} as const;

/** Exit codes: 0 within limits; 1 bad usage; 2 target unreachable; 3 a --max-* limit exceeded. */
export const LOADTEST_EXIT = { ok: EXIT_OK, usage: EXIT_USAGE, unreachable: EXIT_RUNTIME, limitExceeded: EXIT_LIMIT_EXCEEDED } as const;

/** The request sent when no --body is given: a small OpenAI chat completion. */
export function defaultBody(stream: boolean): string {
  return JSON.stringify({
    model: 'default',
    messages: [{ role: 'user', content: 'Say hello in five words.' }],
    max_tokens: 16,
    ...(stream ? { stream: true } : {}),
  });
}

export const ARM_HEADER = 'x-bandit-arm';
/** The arm column for responses without an x-bandit-arm header (fail-open, unmatched route). */
export const NO_ARM = '(none)';
/** The arm column for requests that got no response at all. */
export const NO_RESPONSE = '(no response)';
