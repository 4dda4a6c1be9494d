import { describe, expect, it } from 'vitest';
import type { GuardrailsConfig } from '../../src/config/types.js';
import { Ewma } from '../../src/guardrails/ewma.js';
import { Tally } from '../../src/guardrails/tally.js';
import { EWMA_MIN_HISTORY, MIN_SD_ERROR_RATE, errorRateLimit, judge, ruleReadings, type Baselines } from '../../src/guardrails/verdict.js';

const CFG: GuardrailsConfig = {
  min_samples: 30,
  window_ms: 10_000,
  error_rate: { max: 0.2 },
  latency_p95: { max_ms: 2000 },
  ewma: { alpha: 0.2, sigmas: 4 },
  sequential: null,
  count_client_errors: false,
  action: 'quarantine',
  cooldown_ms: 60_000,
};

function tally(n: number, errors: number, latency: (i: number) => number): Tally {
  const t = new Tally();
  for (let i = 0; i < n; i++) t.add(i < errors, latency(i));
  return t;
}
const both = (t: Tally) => ({ errors: t, latency: t });

/** A baseline of `k` identical buckets of `n` requests with `rate` errors and p95 `p95`. */
function baselines(k: number, n: number, rate: number, p95: number): Baselines {
  const b: Baselines = { errorRate: new Ewma(0.2), residual: new Ewma(0.2), requests: new Ewma(0.2), errors: new Ewma(0.2), latencyP95: new Ewma(0.2) };
  for (let i = 0; i < k; i++) {
    b.errorRate.update(rate);
    b.requests.update(n);
    b.errors.update(rate * n);
    b.residual.update(0); // identical buckets: every one at the baseline rate
    b.latencyP95.update(p95);
  }
  return b;
}
const none = () => baselines(0, 0, 0, 0);

describe('judge', () => {
  it('is inconclusive below min_samples, even when everything fails', () => {
    const t = tally(29, 29, () => 60_000);
    expect(judge(t, both(t), none(), CFG)).toEqual({ kind: 'inconclusive', samples: 29, needed: 30 });
  });

  it('fails on the absolute error rate with its readings (strictly above the max)', () => {
    const ok = tally(100, 20, () => 10);
    expect(judge(ok, both(ok), none(), CFG).kind).toBe('pass');
    const bad = tally(100, 21, () => 10);
    expect(judge(bad, both(bad), none(), CFG)).toEqual({ kind: 'fail', rule: 'error_rate', value: 0.21, limit: 0.2, samples: 100 });
  });

  it('fails on the absolute p95', () => {
    const t = tally(100, 0, (i) => (i < 90 ? 100 : 3000));
    const v = judge(t, both(t), none(), CFG);
    expect(v).toMatchObject({ kind: 'fail', rule: 'latency_p95', limit: 2000, samples: 100 });
    if (v.kind === 'fail') expect(v.value).toBeGreaterThan(2800);
  });

  it('the EWMA rules need EWMA_MIN_HISTORY updates, then catch a regression below the absolute limits', () => {
    const t = tally(400, 40, (i) => (i < 360 ? 50 : 1500)); // 10% errors, p95 1.5 s: under 20% and 2 s
    expect(judge(t, both(t), baselines(EWMA_MIN_HISTORY - 1, 100, 0.01, 50), CFG).kind).toBe('pass');
    const ready = baselines(EWMA_MIN_HISTORY, 100, 0.01, 50);
    const v = judge(t, both(t), ready, CFG);
    expect(v).toMatchObject({ kind: 'fail', rule: 'ewma_error_rate', value: 0.1, samples: 400 });
    if (v.kind === 'fail') expect(v.limit).toBeCloseTo(errorRateLimit(ready, 4, t), 12);
    const slow = tally(400, 4, (i) => (i < 360 ? 50 : 1500));
    const lat = judge(slow, both(slow), ready, CFG);
    expect(lat).toMatchObject({ kind: 'fail', rule: 'ewma_latency' });
    // steady baseline (sd 0): the floor, max(25 ms, 25% of 50 ms), sets the limit
    if (lat.kind === 'fail') expect(lat.limit).toBeCloseTo(50 + 4 * 25, 6);
    // A 60 ms stall-sized bump on a 50 ms arm stays inside it.
    const bump = tally(400, 4, (i) => (i < 360 ? 50 : 110));
    expect(judge(bump, both(bump), ready, CFG).kind).toBe('pass');
  });

  it('error-rate limit: the floor for a 0% arm, an arcsine-scale binomial test otherwise', () => {
    expect(errorRateLimit(baselines(10, 100, 0, 50), 4, { count: 200, errors: 0 })).toBeCloseTo(4 * MIN_SD_ERROR_RATE, 12);
    const b = baselines(10, 100, 0.05, 50);
    const nBase = (100 * 1.8) / 0.2;
    // asin(sqrt(rate)) has variance 1/(4n) whatever the rate.
    const expected = Math.sin(Math.asin(Math.sqrt(0.05)) + 4 * Math.sqrt(1 / (4 * 200) + 1 / (4 * nBase))) ** 2;
    expect(errorRateLimit(b, 4, { count: 200, errors: 10 })).toBeCloseTo(expected, 9);
    // Only the size of the recent span matters, not its errors; a smaller span gets a wider limit.
    expect(errorRateLimit(b, 4, { count: 200, errors: 30 })).toBe(errorRateLimit(b, 4, { count: 200, errors: 10 }));
    expect(errorRateLimit(b, 4, { count: 100, errors: 5 })).toBeGreaterThan(errorRateLimit(b, 4, { count: 1000, errors: 50 }));
  });

  it('error-rate limit: a steady arm at its baseline rate exceeds it with a binomial probability below 1e-4', () => {
    // Exact binomial upper tail: P(X > k) for X ~ Bin(n, p).
    const tailAbove = (n: number, p: number, k: number) => {
      let term = Math.pow(1 - p, n); // P(X = 0)
      let cdf = 0;
      for (let x = 0; x <= k; x++) {
        cdf += term;
        term *= ((n - x) / (x + 1)) * (p / (1 - p));
      }
      return 1 - cdf;
    };
    for (const [p, n] of [[0.05, 200], [0.02, 200], [0.1, 300], [0.05, 1000]] as const) {
      const b = baselines(10, 200, p, 50);
      const limit = errorRateLimit(b, 4, { count: n, errors: Math.round(p * n) });
      // Fails when the recent rate is above the limit: more than floor(limit * n) errors.
      expect(tailAbove(n, p, Math.floor(limit * n))).toBeLessThan(1e-4);
    }
  });

  it('the EWMA rules read the recent span (not diluted by the window) and need enough requests in it', () => {
    const ready = baselines(EWMA_MIN_HISTORY, 100, 0, 50);
    const window = tally(2000, 60, () => 50); // 3% over 10 s
    const recent = tally(300, 60, () => 50);
    expect(judge(window, both(recent), ready, CFG)).toMatchObject({ kind: 'fail', rule: 'ewma_error_rate', value: 0.2, samples: 300 });
    const tiny = tally(29, 29, () => 50);
    expect(judge(window, both(tiny), ready, CFG).kind).toBe('pass');
    expect(ruleReadings(window, both(tiny), ready, CFG).map((r) => r.rule)).toEqual(['error_rate', 'latency_p95']);
  });

  it('a steady arm at its own normal passes; disabled rules never fail', () => {
    const ready = baselines(10, 100, 0.05, 50);
    const t = tally(1000, 55, () => 50);
    expect(judge(t, both(t), ready, CFG).kind).toBe('pass');
    const off: GuardrailsConfig = { ...CFG, error_rate: null, latency_p95: null, ewma: null };
    const worst = tally(1000, 1000, () => 1e6);
    expect(judge(worst, both(worst), ready, off).kind).toBe('pass');
  });
});

describe('Ewma', () => {
  it('tracks mean and variance and ignores non-finite values', () => {
    const e = new Ewma(0.2);
    e.update(Number.NaN);
    expect(e.n).toBe(0);
    for (let i = 0; i < 200; i++) e.update(i % 2 === 0 ? 1 : 3);
    expect(e.mean).toBeGreaterThan(1.8);
    expect(e.mean).toBeLessThan(2.2);
    expect(e.sd).toBeGreaterThan(0.8);
    expect(e.sd).toBeLessThan(1.2);
    expect(e.limit(4, 0)).toBeCloseTo(e.mean + 4 * e.sd, 12);
    e.reset();
    expect(e.n).toBe(0);
  });
});
