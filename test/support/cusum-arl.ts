/**
 * Run-length analysis of the guardrails' Bernoulli CUSUM (src/guardrails/cusum.ts),
 * driving the production chart class.
 *
 * False trips are too rare to count directly (one in ~10^9 requests), so the
 * probability that one excursion of the statistic — from 0 until it returns
 * to 0 or crosses the threshold — ends in a trip is estimated by importance
 * sampling: excursions are drawn with the error rate raised to `tilt` (where
 * crossings are common) and each crossing is weighted by the likelihood ratio
 * of the path under the true rate against the tilted one. The estimate is
 * unbiased; with tilt = p1 and the true rate = p0 every weight is e^-S ≤ e^-h,
 * which is the analytic bound. ARL0 (mean requests between false trips) is
 * the mean excursion length under the true rate divided by that probability.
 */
import { BernoulliCusum } from '../../src/guardrails/cusum.js';
import type { Rng } from '../../src/util/rng.js';

export interface Arl0Estimate {
  /** P(an excursion ends in a trip) under the true rate. */
  pTrip: number;
  /** Relative standard error of pTrip. */
  relSe: number;
  /** Mean excursion length in requests under the true rate (a step that leaves S at 0 is an excursion of 1). */
  meanExcursion: number;
  /** Mean requests between false trips. */
  arl0: number;
}

export function estimateArl0(o: { threshold: number; p0: number; p1: number; pTrue: number; tilt?: number; excursions: number; rng: Rng }): Arl0Estimate {
  const chart = new BernoulliCusum(o.threshold);
  chart.design(o.p0, o.p1);
  const q = o.tilt ?? o.p1;
  const lwUp = Math.log(o.pTrue / q);
  const lwDown = Math.log((1 - o.pTrue) / (1 - q));
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < o.excursions; i++) {
    chart.reset();
    let lw = 0;
    for (;;) {
      const x = o.rng.next() < q;
      lw += x ? lwUp : lwDown;
      chart.add(x);
      if (chart.failing) {
        const w = Math.exp(lw);
        sum += w;
        sumSq += w * w;
        break;
      }
      if (chart.s === 0) break;
    }
  }
  const pTrip = sum / o.excursions;
  const variance = sumSq / o.excursions - pTrip * pTrip;
  const relSe = pTrip > 0 ? Math.sqrt(Math.max(0, variance) / o.excursions) / pTrip : Number.POSITIVE_INFINITY;
  // Excursion lengths under the true rate: short (most end at once), so plain simulation.
  let steps = 0;
  const n = Math.min(o.excursions, 20_000);
  for (let i = 0; i < n; i++) {
    chart.reset();
    for (;;) {
      chart.add(o.rng.next() < o.pTrue);
      steps++;
      if (chart.s === 0 || chart.failing) break;
    }
  }
  const meanExcursion = steps / n;
  return { pTrip, relSe, meanExcursion, arl0: meanExcursion / pTrip };
}

/** Mean requests from S = 0 until the chart first fails, at a true rate `p` (plain simulation). */
export function meanDelay(o: { threshold: number; p0: number; p1: number; p: number; runs: number; rng: Rng }): { mean: number; max: number } {
  const chart = new BernoulliCusum(o.threshold);
  chart.design(o.p0, o.p1);
  let total = 0;
  let max = 0;
  for (let i = 0; i < o.runs; i++) {
    chart.reset();
    let k = 0;
    while (!chart.failing && k < 1_000_000) {
      chart.add(o.rng.next() < o.p);
      k++;
    }
    total += k;
    max = Math.max(max, k);
  }
  return { mean: total / o.runs, max };
}
