import type { GuardrailsConfig } from '../config/types.js';
import type { BernoulliCusum } from './cusum.js';
import type { Ewma } from './ewma.js';
import type { Tally } from './tally.js';

export type GuardRule = 'error_rate' | 'latency_p95' | 'cusum_error_rate' | 'cusum_latency' | 'ewma_error_rate' | 'ewma_latency';

/** The signal a rule reads: the common-mode check compares arms per signal. */
export type GuardSignal = 'errors' | 'latency';
export const signalOf = (rule: GuardRule): GuardSignal => (rule === 'error_rate' || rule === 'ewma_error_rate' || rule === 'cusum_error_rate' ? 'errors' : 'latency');
/** Rules whose value and limit are in ms (the others: ratios, or a CUSUM's log-likelihood units). */
export const isLatencyMs = (rule: GuardRule): boolean => rule === 'latency_p95' || rule === 'ewma_latency';
export const isSequential = (rule: GuardRule): boolean => rule === 'cusum_error_rate' || rule === 'cusum_latency';

/** Rules in the order they are checked (absolute limits first): the first that fails is reported. */
export const RULES: readonly GuardRule[] = ['error_rate', 'latency_p95', 'cusum_error_rate', 'cusum_latency', 'ewma_error_rate', 'ewma_latency'];

/** The sequential charts of one arm (guardrails/cusum.ts): errors, and latency exceedances. */
export interface Charts {
  errors: BernoulliCusum;
  latency: BernoulliCusum;
}

/**
 * Three-valued: `inconclusive` (fewer than min_samples) neither quarantines
 * nor releases. `fail` carries the rule and the readings behind it.
 */
export type Verdict =
  | { kind: 'pass'; samples: number }
  | { kind: 'fail'; rule: GuardRule; value: number; limit: number; samples: number }
  | { kind: 'inconclusive'; samples: number; needed: number };

/**
 * The EWMA rules read a recent span of at least this many requests (and
 * min_samples): an error rate needs more than a p95 because its binomial
 * tail is skewed at small counts.
 */
export const EWMA_MIN_RECENT_ERRORS = 200;
export const EWMA_MIN_RECENT_LATENCY = 100;
/** Updates of the baseline (closed buckets with traffic) before the EWMA rules apply. */
export const EWMA_MIN_HISTORY = 5;
/**
 * Floors under the baseline's standard deviation, so a perfectly steady arm
 * (sd → 0) is not tripped by noise: one percentage point of error rate, and
 * for p95 the larger of 25 ms and 25% of the baseline mean — so the latency
 * rule's limit is never below 2x the arm's normal p95 (mean + 4 · 25%), nor
 * within 100 ms of it. The latency the sidecar measures includes its own event
 * loop: a stall of a few tens of ms (GC, a busy core) lifts every arm's p95 at
 * once and, with a 15% / 5 ms floor, tripped a healthy 50 ms arm in a loaded
 * test run. The absolute `latency_p95.max` still catches slow arms outright.
 */
export const MIN_SD_ERROR_RATE = 0.01;
export const MIN_SD_LATENCY_MS = 25;
export const MIN_SD_LATENCY_REL = 0.25;

export interface Baselines {
  /** Per-bucket error rate (its spread is shown in readings). */
  errorRate: Ewma;
  /**
   * Per-bucket squared residual error count against the baseline rate,
   * (errors − p · requests)²: over EWMA(requests) · p(1 − p) it is the
   * overdispersion. Counts, not rates, so a bucket weighs in by its size: a
   * lone error that happens to land in a near-empty bucket (a stall, a slow
   * spell) is one error, not a rate of 1/3.
   */
  residual: Ewma;
  /** Per-bucket request and error counts: their ratio is the count-weighted baseline rate. */
  requests: Ewma;
  errors: Ewma;
  /** Per-bucket p95 in ms. */
  latencyP95: Ewma;
}

export function latencyMinSd(base: Ewma): number {
  return Math.max(MIN_SD_LATENCY_MS, MIN_SD_LATENCY_REL * Math.abs(base.mean));
}

/**
 * mean + sigmas * sd, where sd covers (a) the spread of the signal — the
 * larger of the baseline's own variance and, when known, the sampling
 * variance of a reading of this size — plus (b) the uncertainty of the EWMA
 * mean itself (var · alpha / (2 - alpha)), floored at minSd. (a) keeps a
 * small recent span from tripping on binomial noise when the baseline happened
 * to look calm; (b) keeps a baseline that happened to run low from doing so.
 */
export function controlLimit(base: Ewma, sigmas: number, minSd: number, samplingVar = 0): number {
  const v = Math.max(base.variance, samplingVar) + (base.variance * base.alpha) / (2 - base.alpha);
  return base.mean + sigmas * Math.max(Math.sqrt(Math.max(0, v)), minSd);
}

/**
 * The error-rate control limit: a two-proportion test of the recent rate
 * against the baseline rate p = EWMA(errors) / EWMA(requests), whose effective
 * size is n_base = EWMA(requests) · (2 - alpha) / alpha requests.
 *
 * The test runs on the arcsine-square-root scale, t = asin(sqrt(rate)), where
 * a binomial proportion has variance 1/(4n) whatever the rate and is nearly
 * symmetric. On the raw scale a low error rate's binomial tail is skewed at
 * a few hundred requests (P(X ≥ 23 | n = 200, p = 0.05) is ~15x what a normal
 * tail says), and a steady 5 %-error arm came within 1 % of tripping over
 * 100k simulated requests. The limit is
 *   sin²( t(p) + sigmas · sqrt(phi · (1/(4 n_recent) + 1/(4 n_base))) ),
 * where phi ≥ 1 is the overdispersion the per-bucket rates showed beyond
 * binomial noise (bursty arms get wider limits), and never less than
 * p + sigmas · MIN_SD_ERROR_RATE.
 */
export function errorRateLimit(b: Baselines, sigmas: number, recent: { count: number; errors: number }): number {
  const { p, nBase, phi } = baselineErrorRate(b);
  const floor = p + sigmas * MIN_SD_ERROR_RATE;
  const n = recent.count;
  if (!(n > 0 && nBase > 0)) return floor;
  const sdT = Math.sqrt(phi * (1 / (4 * n) + 1 / (4 * nBase)));
  const t = Math.min(Math.PI / 2, Math.asin(Math.sqrt(p)) + sigmas * sdT);
  return Math.max(floor, Math.sin(t) ** 2);
}

/** The baseline error rate p = EWMA(errors) / EWMA(requests), in [0, 1]. */
export function baselineRate(b: Baselines): number {
  const perBucket = b.requests.mean;
  return perBucket > 0 ? Math.min(1, Math.max(0, b.errors.mean / perBucket)) : 0;
}

/**
 * The baseline error rate p, its effective size nBase = EWMA(requests) ·
 * (2 - alpha) / alpha requests, and the overdispersion phi ≥ 1 the per-bucket
 * error counts showed beyond binomial noise: EWMA((e − p·n)²) / (EWMA(n) ·
 * p(1 − p)), the size-weighted Pearson ratio (1 for binomial buckets of any
 * sizes; errors that come in bursts raise it).
 */
export function baselineErrorRate(b: Baselines): { p: number; nBase: number; phi: number } {
  const perBucket = b.requests.mean;
  const p = baselineRate(b);
  const a = b.requests.alpha;
  const nBase = (perBucket * (2 - a)) / a;
  const binomial = perBucket * p * (1 - p);
  const phi = binomial > 0 ? Math.max(1, b.residual.mean / binomial) : 1;
  return { p, nBase, phi };
}

/** One rule's reading: fails when value > limit. */
export interface RuleReading {
  rule: GuardRule;
  value: number;
  limit: number;
  samples: number;
}

/**
 * The readings of every rule that applies now, in RULES order. The absolute
 * rules read the whole window; the EWMA rules read `recent` — the latest
 * buckets (see SlidingWindow.recent) — against a baseline of per-bucket
 * values, like a control chart compares its latest subgroup with limits from
 * earlier subgroups. So a fresh regression is not diluted by the older part of
 * the window, and the baseline's spread is that of bucket-sized samples, which
 * are no larger than `recent` (conservative). The EWMA rules apply once the
 * baseline has EWMA_MIN_HISTORY updates and the recent span holds
 * recentSamples() requests.
 */
export function ruleReadings(window: Tally, recent: Recent, base: Baselines, cfg: GuardrailsConfig, charts: Charts | null = null): RuleReading[] {
  const out: RuleReading[] = [];
  const samples = window.count;
  if (cfg.error_rate) out.push({ rule: 'error_rate', value: window.errorRate, limit: cfg.error_rate.max, samples });
  if (cfg.latency_p95) out.push({ rule: 'latency_p95', value: window.p95, limit: cfg.latency_p95.max_ms, samples });
  if (cfg.sequential && charts) {
    const { errors, latency } = charts;
    if (errors.ready) out.push({ rule: 'cusum_error_rate', value: errors.s, limit: errors.threshold, samples: errors.n });
    if (latency.ready) out.push({ rule: 'cusum_latency', value: latency.s, limit: latency.threshold, samples: latency.n });
  }
  if (cfg.ewma) {
    const { sigmas } = cfg.ewma;
    const e = recent.errors;
    if (base.requests.n >= EWMA_MIN_HISTORY && e.count >= recentSamples(cfg, 'errors')) {
      out.push({ rule: 'ewma_error_rate', value: e.errorRate, limit: errorRateLimit(base, sigmas, e), samples: e.count });
    }
    const l = recent.latency;
    if (base.latencyP95.n >= EWMA_MIN_HISTORY && l.count >= recentSamples(cfg, 'latency')) {
      out.push({ rule: 'ewma_latency', value: l.p95, limit: controlLimit(base.latencyP95, sigmas, latencyMinSd(base.latencyP95)), samples: l.count });
    }
  }
  return out;
}

export function recentSamples(cfg: GuardrailsConfig, signal: 'errors' | 'latency'): number {
  return Math.max(cfg.min_samples, signal === 'errors' ? EWMA_MIN_RECENT_ERRORS : EWMA_MIN_RECENT_LATENCY);
}

/** The recent spans the EWMA rules read, one per signal (see recentSamples). */
export interface Recent {
  errors: Tally;
  latency: Tally;
}

/** The verdict on a window (and its recent part) against the config and the arm's baselines. Pure. */
export function judge(window: Tally, recent: Recent, base: Baselines, cfg: GuardrailsConfig, charts: Charts | null = null): Verdict {
  const samples = window.count;
  if (samples < cfg.min_samples) return { kind: 'inconclusive', samples, needed: cfg.min_samples };
  for (const r of ruleReadings(window, recent, base, cfg, charts)) {
    if (r.value > r.limit) return { kind: 'fail', ...r };
  }
  return { kind: 'pass', samples };
}
