/**
 * The normalized configuration every module reads. The YAML uses the same
 * snake_case names; durations are parsed to milliseconds (`*_ms`) and every
 * default is filled in by the loader (see defaults.ts), so consumers never
 * handle `undefined`.
 */

import type { FeatureSpec } from '../contextual/features.js';
import type { ErrorCode } from '../util/errors.js';

export type DurationMs = number;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** All given conditions must hold. An empty match matches everything. */
export interface RouteMatch {
  path_prefix: string | null;
  authority: string | null;
  header: { name: string; value: string } | null;
}

/** A request header whose value is read from a file at start and on reload (an API key, a bearer token). */
export interface SecretHeader {
  file: string;
  /** Put before the file's (trimmed) content, e.g. `Bearer `. */
  prefix: string;
}

/** Request rewrites applied after the decision, for requests sent to this arm. */
export interface ArmRewrite {
  /** New `:authority` (Host), e.g. a KServe InferenceService's virtual host. */
  host: string | null;
  /** Headers set (overwriting a client's) on requests to this arm. */
  headers: Record<string, string>;
  /** Headers whose value comes from a file. */
  secret_headers: Record<string, SecretHeader>;
  /** The JSON body's top-level `model` field; needs the route's `body_rewrite`. */
  model: string | null;
}

export interface ArmConfig {
  name: string;
  cluster: string;
  cost: number;
  rewrite: ArmRewrite | null;
}

/** The route buffers request bodies (Envoy per-route BUFFERED_PARTIAL) so arms can rewrite `model`. */
export interface BodyRewriteConfig {
  /** Larger bodies pass unchanged (counted `too_large`). */
  max_bytes: number;
}

export type DriftConfig =
  | { mode: 'none' }
  | { mode: 'discount'; gamma: number }
  | { mode: 'window'; size: number }
  /** Evidence fades by elapsed time: weight 2^(-age / half_life), the same for every replica's slot. */
  | { mode: 'half_life'; half_life_ms: DurationMs };

export type PolicyParams =
  | { type: 'thompson'; model: 'beta'; prior: { alpha: number; beta: number } }
  | {
      type: 'thompson';
      model: 'gaussian';
      /** Normal-Gamma prior: mean mu, pseudo-count kappa, shape alpha, rate beta. */
      prior: { mu: number; kappa: number; alpha: number; beta: number };
    }
  | { type: 'ucb1'; c: number }
  /** epsilon_t = epsilon / (1 + decay * t); decay 0 is fixed epsilon. */
  | { type: 'epsilon_greedy'; epsilon: number; decay: number }
  | { type: 'static'; weights: Record<string, number> }
  | { type: 'fixed'; arm: string }
  /** Contextual (docs/contextual.md): per-arm ridge regression on the route's features; lambda is the ridge prior. */
  | { type: 'linucb'; alpha: number; lambda: number }
  | { type: 'lints'; v: number; lambda: number };

export type ContextualPolicyParams = Extract<PolicyParams, { type: 'linucb' | 'lints' }>;
export type ContextFreePolicyParams = Exclude<PolicyParams, ContextualPolicyParams>;

export type PolicyType = PolicyParams['type'];

export type PolicyConfig = PolicyParams & {
  /** Exploration floor per eligible arm, applied outside the policy. */
  min_share: number;
  drift: DriftConfig;
};

export interface StickyConfig {
  header: string | null;
  cookie: string | null;
  ttl_ms: DurationMs;
  max_sessions: number;
  /** Response/request header carrying the signed pin clients echo; null = no pins. */
  pin_header: string | null;
}

export interface RewardConfig {
  /**
   * Status patterns: exact codes ("404") or classes ("2xx"); and the gRPC
   * status codes (from trailers or a trailers-only response) that count as
   * success when a response carries one.
   */
  success: { statuses: string[]; grpc_statuses: number[] };
  /**
   * Latency contributes 1 below the SLO, falling linearly to 0 at 2x; measured
   * to the first response byte (`ttfb`) or to the end of the exchange (`total`).
   */
  latency: { slo_ms: DurationMs; measure: LatencyMeasure } | null;
  /** Response header carrying a backend-supplied reward in [0,1]. */
  header: string | null;
  weights: { success: number; latency: number; header: number; cost: number };
  /** Delayed feedback: how long to wait, and the reward applied if none arrives (null: none). */
  feedback: { wait_ms: DurationMs; default: number | null } | null;
}

export type LatencyMeasure = 'ttfb' | 'total';
export type OutcomeSource = 'response_headers' | 'access_log';

/** Where each request's outcome comes from (docs/outcomes.md). */
export interface OutcomesConfig {
  /**
   * `response_headers`: the ext_proc response-headers phase (two round trips
   * per request; status and time to headers only). `access_log`: Envoy's gRPC
   * access log (one round trip; final status, gRPC status from trailers,
   * durations, bytes, response flags, resets and timeouts).
   */
  source: OutcomeSource;
  /** Decisions awaiting their outcome, at most (oldest dropped and counted beyond it). */
  max_pending: number;
  /** A decision whose outcome has not arrived after this long is dropped and counted (access_log only). */
  pending_ttl_ms: DurationMs;
}

export interface GuardrailsConfig {
  min_samples: number;
  /** Sliding window the error rate and p95 are read over. */
  window_ms: DurationMs;
  error_rate: { max: number } | null;
  latency_p95: { max_ms: DurationMs } | null;
  ewma: { alpha: number; sigmas: number } | null;
  /**
   * Sequential detection (guardrails/cusum.ts): CUSUMs on the arm's error rate
   * and latency exceedances against its baseline. `threshold` h bounds false
   * trips (mean requests between them ≥ e^h per chart); `shift` is the rise in
   * rate each chart is tuned to catch fastest.
   */
  sequential: { threshold: number; shift: number } | null;
  /** Count client errors (HTTP 4xx, gRPC client codes) as the arm's errors (guardrails/blame.ts). */
  count_client_errors: boolean;
  action: 'quarantine' | 'alert_only';
  cooldown_ms: DurationMs;
}

export interface RouteConfig {
  name: string;
  match: RouteMatch;
  arms: ArmConfig[];
  default_arm: string;
  policy: PolicyConfig;
  sticky: StickyConfig | null;
  reward: RewardConfig;
  guardrails: GuardrailsConfig | null;
  /** Honour a client's `x-bandit-force-arm` header (off by default: clients cannot pick the arm). */
  allow_force_arm: boolean;
  /** Rewrite the JSON body's `model` per arm (null: bodies are never read). */
  body_rewrite: BodyRewriteConfig | null;
  /** Request features the contextual policies read (null: none; required by linucb and lints). */
  features: FeatureSpec[] | null;
  /** Success objective over a rolling window; exploration shrinks as its error budget burns (null: off). */
  slo: SloConfig | null;
  /** Start the route's statistics from a decision log or a snapshot, scaled to an effective sample size (null: from zero). */
  warm_start: WarmStartConfig | null;
}

export interface WarmStartConfig {
  /** The file: a decision log (JSONL) or a snapshot (a replica's slot file or the aggregator's fleet file). */
  from: string;
  kind: 'decision_log' | 'snapshot';
  /** The prior's total weight over all arms: the source is scaled down to this many samples (never up). */
  effective_samples: number;
  /** The route's name in the file (null: this route's own name). */
  route: string | null;
}

export interface SloConfig {
  /** Target success ratio, e.g. 0.99 (success: reward.success.statuses). */
  objective: number;
  window_ms: DurationMs;
  /** Full exploration at or above this budget remaining, none at or below stop_below, linear between. */
  throttle_below: number;
  stop_below: number;
}

export interface AggregatorConfig {
  /** Where replicas send rewards; the aggregator command listens here. */
  address: string;
  batch: number;
  flush_ms: DurationMs;
  buffer: number;
  /** Aggregator side only: append-only reward log and its fsync policy. */
  log_file: string | null;
  fsync: 'always' | 'batch' | 'none';
  /** Rotate the reward log before it passes this size (null: never), keeping `log_keep` old files. */
  log_max_bytes: number | null;
  log_keep: number;
}

/** Mutual TLS for gossip and the reward stream: PEM files, re-read every `reload_ms` and on a config reload. */
export interface TlsConfig {
  cert: string;
  key: string;
  ca: string;
  reload_ms: DurationMs;
}

export interface GossipConfig {
  listen: string;
  peers: string[];
  dns: string | null;
  interval_ms: DurationMs;
  fanout: number;
  secret_file: string | null;
  /** How long a starting replica waits for its first sync before reporting ready anyway. */
  sync_timeout_ms: DurationMs;
}

export interface WebhookConfig {
  url: string;
  format: 'generic' | 'slack' | 'alertmanager';
  events: Array<'quarantine' | 'probe_failed' | 'release' | 'pause' | 'resume' | 'reload'>;
  bearer_token_file: string | null;
}

export interface NotificationsConfig {
  webhooks: WebhookConfig[];
  /** auto: post Kubernetes Events when running in a cluster; off: never. */
  kubernetes_events: 'auto' | 'off';
  timeout_ms: DurationMs;
  retries: number;
  queue: number;
  settle_ms: DurationMs;
}

export interface Config {
  replica_id: string;
  listen: {
    ext_proc: string;
    admin: string;
    /**
     * The ext_proc server's transport: `http2` (node:http2 directly, ~2x the CPU
     * efficiency) or `grpc-js` (the reference gRPC stack). Same wire and behaviour.
     */
    ext_proc_transport: 'http2' | 'grpc-js';
  };
  routes: RouteConfig[];
  outcomes: OutcomesConfig;
  aggregator: AggregatorConfig | null;
  gossip: GossipConfig | null;
  /**
   * slot_expiry_ms: a replica's slot unchanged for this long leaves the fleet
   * view and snapshots (a tombstone refuses older copies for another expiry).
   */
  state: { snapshot_file: string | null; interval_ms: DurationMs; slot_expiry_ms: DurationMs };
  admin: { token_file: string | null };
  /** HMAC key for decision ids; generated at start (with a warning) when absent. */
  decision_ids: { secret_file: string | null };
  log: { level: LogLevel; decisions_file: string | null; decisions_max_bytes: number; decisions_keep: number };
  notifications: NotificationsConfig;
  /** Mutual TLS for gossip and the reward stream (null: plaintext, authenticated by the gossip secret). */
  tls: TlsConfig | null;
}

/** One problem in a config, with the path of the bad field: `routes[0].arms[1].cluster`. */
export interface ConfigIssue {
  path: string;
  message: string;
  /** Set on problems with a file the field names (config/files.ts): EB_CONFIG_READ or EB_CONFIG_INVALID. */
  code?: ErrorCode;
}
