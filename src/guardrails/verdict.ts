import type { GuardrailsConfig } from '../config/types.js';
import type { Ewma } from './ewma.js';
import type { Tally } from './tally.js';

export type GuardRule = 'error_rate' | 'latency_p95' | 'ewma_error_rate' | 'ewma_latency';

/** Rules in the order they are checked (absolute limits first): the first that fails is reported. */
export const RULES: readonly GuardRule[] = ['error_rate', 'latency_p95', 'ewma_error_rate', 'ewma_latency'];

/**
 * Three-valued: `inconclusive` (fewer than min_samples) neither quarantines
 * nor releases. `fail` carries the rule and the readings behind it.
 */
export type Verdict =
  | { kind: 'pass'; samples: number }
  | { kind: 'fail'; rule: GuardRule; value: number; limit: number; samples: number }
  | { kind: 'inconclusive'; samples: number; needed: number };

/** Updates of the baseline (closed buckets with traffic) before the EWMA rules apply. */
export const EWMA_MIN_HISTORY = 5;
/**
 * Floors under the baseline's standard deviation, so a perfectly steady arm
 * (sd → 0) is not tripped by noise: one percentage point of error rate, and
 * for p95 the larger of 5 ms and 10% of the baseline mean (≥ the histogram's
 * 3.1% resolution).
 */
export const MIN_SD_ERROR_RATE = 0.01;
export const MIN_SD_LATENCY_MS = 5;
export const MIN_SD_LATENCY_REL = 0.1;

export interface Baselines {
  errorRate: Ewma;
  latencyP95: Ewma;
}

export function latencyMinSd(base: Ewma): number {
  return Math.max(MIN_SD_LATENCY_MS, MIN_SD_LATENCY_REL * Math.abs(base.mean));
}

/** The verdict on one span of traffic against the config and the arm's baselines. Pure. */
export function judge(t: Tally, base: Baselines, cfg: GuardrailsConfig): Verdict {
  const samples = t.count;
  if (samples < cfg.min_samples) return { kind: 'inconclusive', samples, needed: cfg.min_samples };
  const rate = t.errorRate;
  if (cfg.error_rate && rate > cfg.error_rate.max) {
    return { kind: 'fail', rule: 'error_rate', value: rate, limit: cfg.error_rate.max, samples };
  }
  const needP95 = cfg.latency_p95 !== null || cfg.ewma !== null;
  const p95 = needP95 ? t.p95 : Number.NaN;
  if (cfg.latency_p95 && p95 > cfg.latency_p95.max_ms) {
    return { kind: 'fail', rule: 'latency_p95', value: p95, limit: cfg.latency_p95.max_ms, samples };
  }
  if (cfg.ewma) {
    const { sigmas } = cfg.ewma;
    if (base.errorRate.n >= EWMA_MIN_HISTORY) {
      const limit = base.errorRate.limit(sigmas, MIN_SD_ERROR_RATE);
      if (rate > limit) return { kind: 'fail', rule: 'ewma_error_rate', value: rate, limit, samples };
    }
    if (base.latencyP95.n >= EWMA_MIN_HISTORY) {
      const limit = base.latencyP95.limit(sigmas, latencyMinSd(base.latencyP95));
      if (p95 > limit) return { kind: 'fail', rule: 'ewma_latency', value: p95, limit, samples };
    }
  }
  return { kind: 'pass', samples };
}
