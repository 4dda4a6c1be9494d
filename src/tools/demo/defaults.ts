/** The demo's embedded defaults: the three simulated models, the failure, the load and the timing. */

export interface ArmProfile {
  /** Arm name in the bandit config. */
  name: string;
  /** Envoy cluster in envoy/envoy.yaml. */
  cluster: string;
  cost: number;
  /** Probability of a 5xx. */
  errorRate: number;
  /** Mean service time; each call draws from a skewed spread around it. */
  latencyMs: number;
  description: string;
}

export const DEMO_ARMS: readonly ArmProfile[] = [
  { name: 'model-a', cluster: 'model_a', cost: 1.0, errorRate: 0.08, latencyMs: 120, description: 'the incumbent: 92% success, ~120 ms' },
  { name: 'model-b', cluster: 'model_b', cost: 0.4, errorRate: 0.02, latencyMs: 80, description: 'the new fine-tune: 98% success, ~80 ms (fails mid-run)' },
  { name: 'model-c', cluster: 'model_c', cost: 0.2, errorRate: 0.15, latencyMs: 220, description: 'the cheap model on shared hardware: 85% success, ~220 ms' },
];

/** What happens to the failing arm, and when (a fraction of each phase's duration). */
export const DEMO_FAILURE = { arm: 'model-b', atFraction: 0.45, errorRate: 0.7, latencyMs: 400 } as const;

export const DEMO_DEFAULTS = {
  /** Total load time: the bandit phase gets BANDIT_FRACTION of it, the static baseline the rest. */
  durationMs: 60_000,
  rps: 120,
  replicas: 2,
  seed: 1,
  out: 'demo-out',
  /** Sessions alive at once per load generator; each request renews its session with CHURN probability. */
  sessions: 200,
  sessionChurn: 0.05,
  tickMs: 1_000,
} as const;

export const BANDIT_FRACTION = 0.7;
/**
 * Demo guardrails: a short window so a failure is caught in seconds, a cooldown past the run's end, and no EWMA
 * rules: on a loaded 2-core machine a CPU stall of the demo itself (which hosts the backends) looks like a latency
 * jump of many sigmas; an error rate does not come from a stall.
 */
export const DEMO_GUARDRAILS = { window: '5s', minSamples: 30, errorRateMax: 0.35, latencyP95Max: '1500ms', cooldown: '120s' } as const;
/** Latency counts fully below the SLO, falling to 0 at twice it. */
export const DEMO_REWARD = { slo: '200ms' } as const;
export const DEMO_MAX_REPLICAS = 4;
export const DEMO_MIN_DURATION_MS = 10_000;
export const DEMO_MAX_DURATION_MS = 30 * 60_000;
export const DEMO_MAX_RPS = 2_000;
/** Time allowed for Envoy, sidecars and aggregator to report ready. */
export const DEMO_START_TIMEOUT_MS = 30_000;
