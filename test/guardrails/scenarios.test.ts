/**
 * The guardrails' headline behaviours on simulated time (default config unless
 * stated): no flapping on a steady noisy arm, fast trips on real regressions.
 * Figures are printed for the README.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/util/rng.js';
import { ROUTE, T0, guardConfig, lognormal, makeRig, simulate, totalTrips, type ArmBehaviour } from '../support/guardrails-rig.js';

const SWITCH_MS = 30_000;

describe('guardrail scenarios (default config, 200 rps, simulated time)', () => {
  it('a steady 5%-error arm is never quarantined over 100k requests (no flapping); reports the false-trip margin', async () => {
    const rig = makeRig(guardConfig());
    const steady: ArmBehaviour = { errorRate: 0.05, latency: lognormal(50, 0.3) };
    const worst: Record<string, { ratio: number; value: number; limit: number }> = {};
    let lastSample = 0;
    const stats = simulate(rig, {
      rps: 200,
      durationMs: 500_000,
      behaviours: () => steady,
      // GR_SEED explores other seeds by hand (10 seeds checked: 0 trips each); the test is deterministic on 11.
      rng: createRng(Number(process.env.GR_SEED ?? 11)),
      onStep: (t) => {
        if (t - lastSample < 250) return;
        lastSample = t;
        for (const arm of ['a', 'b']) {
          for (const r of rig.guardrails.ruleReadings(ROUTE, arm)) {
            if (r.samples < rig.config.routes[0]!.guardrails!.min_samples) continue;
            const ratio = r.value / r.limit;
            const w = worst[r.rule];
            if (!w || ratio > w.ratio) worst[r.rule] = { ratio, value: r.value, limit: r.limit };
          }
        }
      },
    });
    expect(stats.requests).toBeGreaterThanOrEqual(99_999);
    expect(await totalTrips(rig.metrics)).toBe(0);
    expect(rig.guardrails.phase(ROUTE, 'a')).toBe('active');
    expect(rig.guardrails.phase(ROUTE, 'b')).toBe('active');
    // Every rule was actually evaluated, and the closest call stayed below its limit.
    expect(Object.keys(worst).sort()).toEqual(['cusum_error_rate', 'cusum_latency', 'error_rate', 'latency_p95']);
    for (const w of Object.values(worst)) expect(w.ratio).toBeLessThan(1);
    console.log(
      `[guardrails] steady 5% arm, ${stats.requests} requests at 200 rps (${(500).toFixed(0)} s simulated): 0 trips; worst value/limit per rule: ` +
        Object.entries(worst).map(([k, w]) => `${k} ${w.ratio.toFixed(2)} (${w.value.toFixed(3)} vs ${w.limit.toFixed(3)})`).join(', '),
    );
  });

  // The default policy (Thompson) moves traffic off the failing arm as it learns, so the arm sees fewer
  // requests than its half of 200 rps: the chart needs ~14 of them at 50 % errors (cusum.test.ts).
  it('error rate 0% → 50% on one arm is quarantined within 1 s of simulated time, by the sequential test', () => {
    const rig = makeRig(guardConfig());
    const ok: ArmBehaviour = { errorRate: 0, latency: lognormal(50, 0.2) };
    const bad: ArmBehaviour = { errorRate: 0.5, latency: lognormal(50, 0.2) };
    simulate(rig, {
      rps: 200,
      durationMs: SWITCH_MS + 10_000,
      behaviours: (arm, t) => (arm === 'b' && t >= SWITCH_MS ? bad : ok),
      rng: createRng(12),
      onStep: () => rig.guardrails.phase(ROUTE, 'b') === 'quarantined',
    });
    expect(rig.guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    const ttq = rig.clock.now() - T0 - SWITCH_MS;
    expect(ttq).toBeGreaterThan(0);
    const trip = rig.logs.find((l) => l.msg.startsWith('guardrail trip'))!;
    expect(ttq).toBeLessThanOrEqual(1000);
    expect(trip.rule).toBe('cusum_error_rate');
    console.log(`[guardrails] 0% → 50% errors at 200 rps: quarantined ${ttq.toFixed(0)} ms (simulated) after the switch by ${String(trip.rule)} (value ${Number(trip.value).toFixed(3)} > limit ${Number(trip.limit).toFixed(3)}, ${String(trip.samples)} samples)`);
  });

  it('latency 50 ms → 1.5 s, under an absolute p95 limit of 2 s, is caught by the sequential latency test', () => {
    const rig = makeRig(guardConfig({ guardrails: '{ latency_p95: { max: 2s } }' }));
    const fast: ArmBehaviour = { errorRate: 0.01, latency: lognormal(50, 0.2) };
    const slow: ArmBehaviour = { errorRate: 0.01, latency: lognormal(1500, 0.1) };
    simulate(rig, {
      rps: 200,
      durationMs: SWITCH_MS + 20_000,
      behaviours: (arm, t) => (arm === 'b' && t >= SWITCH_MS ? slow : fast),
      rng: createRng(13),
      onStep: () => rig.guardrails.phase(ROUTE, 'b') === 'quarantined',
    });
    expect(rig.guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    const trip = rig.logs.find((l) => l.msg.startsWith('guardrail trip'))!;
    expect(trip.rule).toBe('cusum_latency');
    const ttq = rig.clock.now() - T0 - SWITCH_MS;
    // The first slow responses land 1.5 s after the switch; the chart needs a dozen of them.
    expect(ttq).toBeGreaterThan(1500);
    expect(ttq).toBeLessThan(3000);
    console.log(`[guardrails] latency 50 ms → 1.5 s (p95 limit 2 s): quarantined ${ttq.toFixed(0)} ms (simulated) after the switch by cusum_latency (statistic ${Number(trip.value).toFixed(1)} > ${Number(trip.limit).toFixed(0)})`);
  });
});
