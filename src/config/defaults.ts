/**
 * Every default the config loader fills in, in one place. Durations are in
 * milliseconds, like the normalized Config they end up in.
 */
import type { LogLevel } from './types.js';

// --- listeners (contract section 1: everything on loopback unless configured) ---
export const DEFAULT_EXTPROC_LISTEN = '127.0.0.1:50051';
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:9464';
/** node:http2 directly: measured at ~2x a naive grpc-js server's streams per CPU-second (bench/extproc.ts). */
export const DEFAULT_EXTPROC_TRANSPORT = 'http2' as const;
export const EXTPROC_TRANSPORTS = ['http2', 'grpc-js'] as const;
export const DEFAULT_GOSSIP_LISTEN = '127.0.0.1:7946';
export const DEFAULT_AGGREGATOR_ADDRESS = '127.0.0.1:50061';

// --- arms ---
/** No cost penalty unless the arm says otherwise. */
export const DEFAULT_ARM_COST = 0;

// --- request rewrites ---
/**
 * Largest request body whose `model` field is rewritten: Envoy's default
 * per-connection buffer limit, so a body Envoy could buffer whole is never
 * refused here; a larger one arrives partial and passes unchanged.
 */
export const DEFAULT_BODY_REWRITE_MAX_BYTES = 1024 * 1024;

// --- sticky sessions (on by default) ---
export const DEFAULT_STICKY_HEADER = 'x-session-id';
export const DEFAULT_STICKY_COOKIE: string | null = null;
export const DEFAULT_STICKY_TTL_MS = 30 * 60_000;
export const DEFAULT_STICKY_MAX_SESSIONS = 100_000;
/** The table is allocated up front (18 bytes a slot, 2–4 slots a session): this bounds what one route can ask for (≤ 720 MB). */
export const MAX_STICKY_SESSIONS = 10_000_000;
/** Longer session keys are not sticky (decided by the policy, counted): memory and CPU per key stay bounded. */
export const MAX_SESSION_KEY_LENGTH = 256;
/** Response header carrying the signed pin; clients echo it (null in the config: no pins, local table only). */
export const DEFAULT_STICKY_PIN_HEADER: string | null = 'x-bandit-pin';
/** An echoed pin older than this fraction of the TTL is re-signed on the response, so active sessions never expire. */
export const PIN_REFRESH_FRACTION = 0.5;

// --- policy ---
/** Exploration floor per arm for learning policies. */
export const DEFAULT_MIN_SHARE = 0.01;
/** Baselines (static, fixed) must send exactly what they say, so no floor unless asked for. */
export const DEFAULT_MIN_SHARE_BASELINE = 0;
export const DEFAULT_THOMPSON_MODEL = 'beta' as const;
/** Beta(1, 1): uniform over the success probability. */
export const DEFAULT_BETA_PRIOR = { alpha: 1, beta: 1 } as const;
/**
 * Normal-Gamma prior for rewards in [0, 1]: mean at the middle of the range
 * (mu 0.5) worth one pseudo-observation (kappa 1), so data dominates after a
 * few samples; precision ~ Gamma(shape 1, rate 1) has mean 1 (sd ~1), wide
 * next to the [0, 1] range, so it is weakly informative.
 */
export const DEFAULT_GAUSSIAN_PRIOR = { mu: 0.5, kappa: 1, alpha: 1, beta: 1 } as const;
/** ~sqrt(2), the constant of the classic UCB1 bound. */
export const DEFAULT_UCB1_C = 1.414;
export const DEFAULT_EPSILON = 0.1;
/** 0: epsilon stays fixed. */
export const DEFAULT_EPSILON_DECAY = 0;
export const DEFAULT_DRIFT_GAMMA = 0.999;
export const DEFAULT_DRIFT_WINDOW_SIZE = 2000;
/** drift half_life: evidence loses half its weight every 10 minutes. */
export const DEFAULT_DRIFT_HALF_LIFE_MS = 10 * 60_000;

// --- reward ---
export const DEFAULT_SUCCESS_STATUSES: readonly string[] = ['2xx'];
/** gRPC OK only. */
export const DEFAULT_SUCCESS_GRPC_STATUSES: readonly number[] = [0];
/** Time to first byte: what a streaming client waits for; `total` scores whole generations. */
export const DEFAULT_LATENCY_MEASURE = 'ttfb' as const;

// --- outcomes ---
/** The shipped envoy/envoy.yaml runs the two-phase ext_proc protocol; envoy/envoy-accesslog.yaml the access-log one. */
export const DEFAULT_OUTCOME_SOURCE = 'response_headers' as const;
export const OUTCOME_SOURCES = ['response_headers', 'access_log'] as const;
/** Decisions awaiting an outcome: ~100 s at 1,000 req/s, ~25 MB at worst. */
export const DEFAULT_OUTCOMES_MAX_PENDING = 100_000;
/** Longer than the longest route timeout shipped in envoy/ (streaming: 600 s) plus the access-log flush. */
export const DEFAULT_OUTCOMES_PENDING_TTL_MS = 660_000;
export const DEFAULT_REWARD_WEIGHTS = { success: 1, latency: 0.5, header: 1, cost: 0.1 } as const;
/** Used when `reward.feedback` is given without `wait`. */
export const DEFAULT_FEEDBACK_WAIT_MS = 30_000;

// --- guardrails (on by default) ---
export const DEFAULT_GUARDRAIL_MIN_SAMPLES = 30;
export const DEFAULT_GUARDRAIL_WINDOW_MS = 10_000;
export const DEFAULT_GUARDRAIL_ERROR_RATE_MAX = 0.2;
export const DEFAULT_GUARDRAIL_LATENCY_P95_MAX_MS = 2_000;
export const DEFAULT_GUARDRAIL_EWMA = { alpha: 0.2, sigmas: 4 } as const;
/** Client errors (4xx, gRPC client codes) are not the arm's fault unless a route opts in. */
export const DEFAULT_GUARDRAIL_COUNT_CLIENT_ERRORS = false;
export const DEFAULT_GUARDRAIL_ACTION = 'quarantine' as const;
export const DEFAULT_GUARDRAIL_COOLDOWN_MS = 60_000;

// --- warm start ---
/** A warm-start prior is worth this many samples (over all arms) unless the route says otherwise. */
export const DEFAULT_WARM_START_EFFECTIVE_SAMPLES = 100;

// --- contextual features ---
/** Hashed one-hot width of a categorical feature unless given (docs/contextual.md: use ≥ 4× the distinct values). */
export const DEFAULT_CATEGORICAL_BUCKETS = 16;

// --- SLO error budget (off unless a route declares one) ---
export const DEFAULT_SLO_WINDOW_MS = 60 * 60_000;
/** Exploration is full while this much of the budget remains... */
export const DEFAULT_SLO_THROTTLE_BELOW = 0.75;
/** ...and none (every policy decision to the incumbent) at or below this much. */
export const DEFAULT_SLO_STOP_BELOW = 0.5;

// --- aggregator (off unless configured) ---
export const DEFAULT_AGGREGATOR_BATCH = 256;
export const DEFAULT_AGGREGATOR_FLUSH_MS = 100;
export const DEFAULT_AGGREGATOR_BUFFER = 100_000;
export const DEFAULT_AGGREGATOR_FSYNC = 'batch' as const;
/** The reward log rotates before it would pass this size; null in config: never. */
export const DEFAULT_AGGREGATOR_LOG_MAX_BYTES = 1024 * 1024 * 1024;
/** Rotated reward logs kept (`<log>.1` … `<log>.N`); all of them are replayed at start to rebuild the dedupe index. */
export const DEFAULT_AGGREGATOR_LOG_KEEP = 10;

// --- mutual TLS (off unless configured) ---
/** Certificate files are re-read this often (and on every config reload). */
export const DEFAULT_TLS_RELOAD_MS = 30_000;

// --- gossip (off unless configured) ---
export const DEFAULT_GOSSIP_INTERVAL_MS = 1_000;
export const DEFAULT_GOSSIP_FANOUT = 2;
export const DEFAULT_GOSSIP_SYNC_TIMEOUT_MS = 5_000;

// --- notifications (webhooks off unless configured; Kubernetes Events when in a cluster) ---
export const WEBHOOK_FORMATS = ['generic', 'slack', 'alertmanager'] as const;
export const NOTIFY_EVENT_KINDS = ['quarantine', 'probe_failed', 'release', 'pause', 'resume', 'reload'] as const;
export const DEFAULT_WEBHOOK_FORMAT = 'generic' as const;
export const DEFAULT_KUBERNETES_EVENTS = 'auto' as const;
export const DEFAULT_NOTIFY_TIMEOUT_MS = 5_000;
export const DEFAULT_NOTIFY_RETRIES = 3;
/** First retry after 500 ms, then 1 s, 2 s. */
export const DEFAULT_NOTIFY_BACKOFF_MS = 500;
export const DEFAULT_NOTIFY_QUEUE = 1_000;
/**
 * How long a guardrail trip waits before its replica decides whether it is
 * the one to report it: long enough for a peer's earlier trip to arrive by
 * gossip (two rounds at the default 1 s interval).
 */
export const DEFAULT_NOTIFY_SETTLE_MS = 2_000;

// --- state, logs ---
export const DEFAULT_STATE_INTERVAL_MS = 10_000;
/**
 * A replica's slot unchanged this long leaves the fleet view and snapshots
 * (live replicas rewrite theirs every quarter of it). Long enough to ride out
 * a partition, short enough that a rollout's dead pods are gone within the hour.
 */
export const DEFAULT_SLOT_EXPIRY_MS = 30 * 60_000;
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export const DEFAULT_DECISIONS_MAX_BYTES = 100 * 1024 * 1024;
/** Rotated decision logs kept (`<file>.1` … `<file>.N`). */
export const DEFAULT_DECISIONS_KEEP = 3;
/** Upper bound for the `keep` settings (a typo should not fill a disk with thousands of files). */
export const MAX_ROTATED_FILES = 1_000;

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
