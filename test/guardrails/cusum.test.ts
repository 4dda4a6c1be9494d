/**
 * The sequential test's numbers (docs/guardrails.md#sequential-detection): its
 * false-trip rate at the defaults, computed by importance sampling of the
 * production chart and checked against direct counting and against the whole
 * ArmGuard (learned baseline included) at a scaled-down threshold; and its
 * detection delay.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GUARDRAIL_EWMA, DEFAULT_GUARDRAIL_SEQUENTIAL } from '../../src/config/defaults.js';
import type { GuardrailsConfig } from '../../src/config/types.js';
import { ArmGuard } from '../../src/guardrails/arm-guard.js';
import { BernoulliCusum, errorDesign, exceedanceLimitMs, SEQ_CAP_FACTOR, SEQ_LATENCY_Q0, SEQ_MAX_RATE_SHIFT, SEQ_MIN_P0 } from '../../src/guardrails/cusum.js';
import { createRng } from '../../src/util/rng.js';
import { estimateArl0, meanDelay } from '../support/cusum-arl.js';
import { lognormal } from '../support/guardrails-rig.js';

const { threshold: H, shift: SHIFT } = DEFAULT_GUARDRAIL_SEQUENTIAL;
const RPS = 200;
const THIRTY_DAYS_S = 30 * 86_400;
const REQUESTS_PER_30_DAYS = RPS * THIRTY_DAYS_S;
/** The baseline's effective size at RPS on one arm: one-second buckets, EWMA alpha → (2 - alpha) / alpha buckets. */
const N_EFF = (RPS * (2 - DEFAULT_GUARDRAIL_EWMA.alpha)) / DEFAULT_GUARDRAIL_EWMA.alpha;

function cfg(threshold: number = H): GuardrailsConfig {
  return {
    min_samples: 30,
    window_ms: 10_000,
    error_rate: { max: 0.2 },
    latency_p95: { max_ms: 2000 },
    ewma: null,
    sequential: { threshold, shift: SHIFT },
    count_client_errors: false,
    action: 'quarantine',
    cooldown_ms: 60_000,
  };
}

describe('sequential detection: false trips at the defaults', () => {
  it('a steady 5 % error rate at 200 req/s trips under once per arm per 30 days, both charts together, even with the reference at the true rate', () => {
    // Worst case: the chart's reference p0 equals the true rate. (The error chart's reference is an upper
    // bound on the baseline, so a steady arm runs below it; the latency chart's reference is 5 % by construction.)
    const e = estimateArl0({ threshold: H, p0: 0.05, p1: 0.05 + SHIFT, pTrue: 0.05, excursions: 40_000, rng: createRng(1) });
    expect(e.relSe).toBeLessThan(0.05);
    // The analytic bound holds (each excursion trips with probability ≤ e^-h) and the estimate sits under it.
    expect(e.pTrip).toBeLessThanOrEqual(Math.exp(-H));
    const perArmPer30Days = (2 * REQUESTS_PER_30_DAYS) / e.arl0;
    expect(perArmPer30Days).toBeLessThan(1);
    // One threshold lower would not meet the target: 19 is the shortest detection the target allows.
    const lower = estimateArl0({ threshold: H - 1, p0: 0.05, p1: 0.05 + SHIFT, pTrue: 0.05, excursions: 40_000, rng: createRng(2) });
    expect((2 * REQUESTS_PER_30_DAYS) / lower.arl0).toBeGreaterThan(1);
    console.log(
      `[cusum] h=${H}: P(trip per excursion) ${e.pTrip.toExponential(2)} ± ${(e.relSe * 100).toFixed(1)} % (bound e^-h ${Math.exp(-H).toExponential(2)}), ` +
        `ARL0 ${e.arl0.toExponential(2)} requests = ${(e.arl0 / RPS / 86_400).toFixed(0)} days per chart at ${RPS} req/s; both charts: ${perArmPer30Days.toFixed(2)} false trips per arm per 30 days ` +
        `(h=${H - 1}: ${((2 * REQUESTS_PER_30_DAYS) / lower.arl0).toFixed(2)})`,
    );
  });

  it('at the reference a 5 % arm actually gets (upper bound of its baseline at 200 req/s) false trips are rarer still', () => {
    const { p0, p1 } = errorDesign(0.05, N_EFF, 1, SHIFT);
    expect(p0).toBeGreaterThan(0.06);
    const e = estimateArl0({ threshold: H, p0, p1, pTrue: 0.05, excursions: 40_000, rng: createRng(3) });
    expect(e.relSe).toBeLessThan(0.1);
    expect(e.arl0).toBeGreaterThan(50 * REQUESTS_PER_30_DAYS);
    console.log(`[cusum] steady 5 % arm, reference ${(p0 * 100).toFixed(2)} %: ARL0 ${e.arl0.toExponential(2)} requests (${(e.arl0 / RPS / 86_400 / 365).toFixed(0)} years at ${RPS} req/s)`);
  });

  it('the importance-sampling estimate agrees with direct counting where trips are common (h = 6)', () => {
    const h = 6;
    const is = estimateArl0({ threshold: h, p0: 0.05, p1: 0.05 + SHIFT, pTrue: 0.05, excursions: 40_000, rng: createRng(4) });
    const chart = new BernoulliCusum(h);
    chart.design(0.05, 0.05 + SHIFT);
    const rng = createRng(5);
    const n = 2_000_000;
    let trips = 0;
    for (let i = 0; i < n; i++) {
      chart.add(rng.next() < 0.05);
      if (chart.failing) {
        trips++;
        chart.reset();
      }
    }
    const expected = n / is.arl0;
    expect(trips).toBeGreaterThan(100);
    expect(Math.abs(trips - expected) / expected).toBeLessThan(0.15);
    console.log(`[cusum] h=${h}: ${trips} trips counted in ${n} requests, ${expected.toFixed(0)} predicted by importance sampling`);
  });

  it('scaled down to h = 8, the whole ArmGuard (baseline learned on the fly) at a steady 5 % trips no more than the worst-case chart predicts', () => {
    const h = 8;
    const worst = estimateArl0({ threshold: h, p0: 0.05, p1: 0.05 + SHIFT, pTrue: 0.05, excursions: 40_000, rng: createRng(6) });
    const guard = new ArmGuard(cfg(h));
    const rng = createRng(7);
    const latency = lognormal(50, 0.3);
    const n = 1_000_000;
    let trips = 0;
    let armedAt = -1;
    for (let i = 0; i < n; i++) {
      guard.record(i * (1000 / RPS), rng.next() < 0.05, latency(rng));
      if (armedAt < 0 && guard.charts.errors.ready && guard.charts.latency.ready) armedAt = i;
      if (guard.sequentialFailing) {
        trips++;
        guard.dropWindow(); // what a trip does
      }
    }
    expect(armedAt).toBeGreaterThan(0);
    expect(armedAt).toBeLessThan(20 * RPS);
    const predicted = (n - armedAt) / worst.arl0;
    expect(predicted).toBeGreaterThan(10);
    expect(trips).toBeLessThanOrEqual(predicted + 3 * Math.sqrt(predicted));
    console.log(`[cusum] ArmGuard at h=${h}, steady 5 % over ${n} requests: ${trips} trips; the chart with its reference at the true rate predicts ${predicted.toFixed(1)}`);
  });
});

describe('sequential detection: delay', () => {
  it('0 → 50 % errors from a clean baseline takes ~14 requests on average, so ~0.15 s at 100 req/s on the arm', () => {
    const { p0, p1 } = errorDesign(0, N_EFF, 1, SHIFT);
    expect(p0).toBe(SEQ_MIN_P0);
    const d = meanDelay({ threshold: H, p0, p1, p: 0.5, runs: 5_000, rng: createRng(8) });
    expect(d.mean).toBeLessThan(16);
    expect(d.max).toBeLessThan(60);
    const slower = meanDelay({ threshold: H, p0, p1, p: 0.2, runs: 2_000, rng: createRng(9) });
    const fromFive = errorDesign(0.05, N_EFF, 1, SHIFT);
    const five = meanDelay({ threshold: H, p0: fromFive.p0, p1: fromFive.p1, p: 0.5, runs: 2_000, rng: createRng(10) });
    const lat = meanDelay({ threshold: H, p0: SEQ_LATENCY_Q0, p1: SEQ_LATENCY_Q0 + SHIFT, p: 1, runs: 10, rng: createRng(11) });
    expect(lat.max).toBeLessThanOrEqual(12);
    console.log(
      `[cusum] h=${H} detection, mean (max) requests on the arm: 0 → 50 % errors ${d.mean.toFixed(1)} (${d.max}) = ${((d.mean / 100) * 1000).toFixed(0)} ms at 100 req/s; ` +
        `0 → 20 % ${slower.mean.toFixed(0)} (${slower.max}); 5 → 50 % ${five.mean.toFixed(0)} (${five.max}); every response over the latency limit: ${lat.max}`,
    );
  });
});

describe('BernoulliCusum and the chart design', () => {
  it('adds ln(p1/p0) per event and ln((1-p1)/(1-p0)) per non-event, never below 0, capped at twice the threshold', () => {
    const c = new BernoulliCusum(10);
    c.add(true);
    expect(c.s).toBe(0); // not designed yet: off
    c.design(0.1, 0.3);
    c.add(true);
    expect(c.s).toBeCloseTo(Math.log(3), 12);
    c.add(false);
    expect(c.s).toBeCloseTo(Math.log(3) + Math.log(0.7 / 0.9), 12);
    for (let i = 0; i < 100; i++) c.add(false);
    expect(c.s).toBe(0);
    for (let i = 0; i < 100; i++) c.add(true);
    expect(c.s).toBe(SEQ_CAP_FACTOR * 10);
    expect(c.failing).toBe(true);
    c.reset();
    expect([c.s, c.n, c.failing]).toEqual([0, 0, false]);
  });

  it('turns off when there is no rate above p0 to test; its shift reads the recent rate as well as S', () => {
    const c = new BernoulliCusum(10);
    c.design(0.99, 0.99);
    expect(c.ready).toBe(false);
    c.add(true);
    expect(c.s).toBe(0);
    c.design(0.01, 0.21);
    expect(c.shift).toBe(0);
    for (let i = 0; i < 10; i++) c.add(i % 2 === 0); // 50 %: the recent rate is past p1 within ten requests
    expect(c.s).toBeGreaterThan(0);
    expect(c.shift).toBeGreaterThan(1);
    for (let i = 0; i < 100; i++) c.add(true);
    expect(c.shift).toBe(SEQ_MAX_RATE_SHIFT);
    c.reset();
    expect(c.shift).toBe(0);
  });

  it('references the upper confidence bound of the baseline, never below 1 %; latency exceedances start at 2x p95 or p95 + 100 ms', () => {
    expect(errorDesign(0, 1800, 1, 0.2).p0).toBe(0.01);
    expect(errorDesign(0, 1800, 1, 0.2).p1).toBeCloseTo(0.21, 12);
    const d = errorDesign(0.05, 1800, 1, 0.2);
    expect(d.p0).toBeCloseTo(0.05 + 3 * Math.sqrt((0.05 * 0.95) / 1800), 12);
    expect(errorDesign(0.05, 1800, 4, 0.2).p0).toBeGreaterThan(d.p0);
    expect(errorDesign(0.9, 1800, 1, 0.2).p1).toBe(0.99);
    expect(exceedanceLimitMs(50)).toBe(150);
    expect(exceedanceLimitMs(400)).toBe(800);
  });

  it('a lone error that lands in a near-empty bucket (a stall) is one error: the reference stays near the 1 % floor', () => {
    const guard = new ArmGuard(cfg());
    let t = 0;
    for (; t < 12_000; t += 5) guard.record(t, false, 50);
    // One second in which the arm saw three responses, one an error (its requests were stuck behind a stall).
    guard.record(12_100, true, 50);
    guard.record(12_400, false, 50);
    guard.record(12_700, false, 50);
    // Read just after that second has left the 10 s window and entered the baseline.
    for (t = 13_000; t < 25_000; t += 5) guard.record(t, false, 50);
    const e = guard.readings(t).sequential?.errors;
    expect(e).not.toBeNull();
    // p = 1/~5000 over the baseline's effective size, plus 3 binomial standard errors: under 2 %.
    expect(e?.p0).toBeLessThan(0.02);
  });

  it('errors that come in bursts (a whole bucket’s worth at once) widen the reference beyond binomial noise', () => {
    const steady = new ArmGuard(cfg());
    const bursty = new ArmGuard(cfg());
    const rng = createRng(3);
    for (let t = 0; t < 40_000; t += 5) {
      steady.record(t, rng.next() < 0.05, 50);
      // The same 5 % on average: 20 % of requests in one second of every four, none in the others.
      bursty.record(t, Math.floor(t / 1000) % 4 === 0 && rng.next() < 0.2, 50);
    }
    const p0 = (g: ArmGuard) => g.readings(40_000).sequential?.errors?.p0 ?? Number.NaN;
    expect(p0(steady)).toBeLessThan(0.08);
    expect(p0(bursty)).toBeGreaterThan(p0(steady) + 0.03);
  });

  it('a 3 s stall is learned at most at the exceedance limit (the latency chart stays sharp); a lasting slowdown is still learned', () => {
    const guard = new ArmGuard(cfg());
    let t = 0;
    const run = (ms: number, latencyMs: number) => {
      for (const end = t + ms; t < end; t += 5) guard.record(t, false, latencyMs);
    };
    run(16_000, 50);
    run(3_000, 1500);
    run(12_000, 50); // the stall's buckets have left the window and been learned
    expect(guard.baseline.latencyP95.mean).toBeLessThan(150);
    expect(guard.exceedanceMs).toBeLessThan(300);
    run(60_000, 1500);
    expect(guard.baseline.latencyP95.mean).toBeGreaterThan(1300);
  });

  it('ArmGuard arms its charts once the baseline has history, resets them on a trip and disarms them with the baseline', () => {
    const guard = new ArmGuard(cfg());
    const rng = createRng(12);
    let t = 0;
    const run = (ms: number, errorRate: number) => {
      for (const end = t + ms; t < end; t += 5) guard.record(t, rng.next() < errorRate, 50);
    };
    run(10_000, 0);
    expect(guard.charts.errors.ready).toBe(false);
    run(6_000, 0);
    expect(guard.charts.errors.ready).toBe(true);
    // 50 ms read back from the latency histogram (≤ 3.125 % off) + 100 ms.
    expect(guard.exceedanceMs).toBeCloseTo(150, 0);
    run(200, 0.5);
    expect(guard.sequentialFailing).toBe(true);
    expect(guard.evaluate(t)).toMatchObject({ kind: 'fail', rule: 'cusum_error_rate' });
    guard.dropWindow();
    expect(guard.sequentialFailing).toBe(false);
    guard.resetBaseline();
    expect(guard.charts.errors.ready).toBe(false);
    expect(guard.readings(t).sequential).toEqual({ errors: null, latency: null });
  });
});
