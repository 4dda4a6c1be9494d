import { describe, expect, it } from 'vitest';
import { SloBudget } from '../../src/slo/budget.js';
import { createRng } from '../../src/util/rng.js';
import { testConfig, testEngine } from '../support/engine.js';

const MIN = 60_000;
const params = { objective: 0.99, windowMs: 60 * MIN, throttleBelow: 0.75, stopBelow: 0.5 };

describe('SloBudget', () => {
  it('computes the budget remaining and the burn rate from outcomes in the window', () => {
    const b = new SloBudget(params);
    const t0 = 1_700_000_000_000;
    // 1,000 requests, 4 failures: 0.4 % error rate = 40 % of a 1 % budget.
    for (let i = 0; i < 1000; i++) b.record(i % 250 !== 0, t0 + i * 100);
    const now = t0 + 1000 * 100;
    expect(b.remaining(now)).toBeCloseTo(0.6, 9);
    expect(b.explorationScale(now)).toBeCloseTo((0.6 - 0.5) / 0.25, 9);
    // All 1,000 fall in the last 5 minutes of the hour: the burn rate over that span is 0.4.
    expect(b.burnRate(now)).toBeCloseTo(0.4, 9);
  });

  it('full exploration while healthy, none once half the budget is gone, and the budget recovers as the window moves on', () => {
    const b = new SloBudget(params);
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 1000; i++) b.record(true, t0 + i);
    expect(b.remaining(t0 + 1000)).toBe(1);
    expect(b.explorationScale(t0 + 1000)).toBe(1);
    for (let i = 0; i < 20; i++) b.record(false, t0 + 2000 + i);
    expect(b.remaining(t0 + 3000)).toBe(0);
    expect(b.burnRate(t0 + 3000)).toBeCloseTo(20 / 1020 / 0.01, 9);
    expect(b.explorationScale(t0 + 3000)).toBe(0);
    expect(b.remaining(t0 + 61 * MIN + 1)).toBe(1);
  });
});

const yaml = (slo: string) => `
replica_id: r1
routes:
  - name: chat
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    policy: { type: thompson, min_share: 0.1 }
    sticky: null
    guardrails: null
    slo: ${slo}
`;

/** 1,500 decisions answered with per-arm success rates (model-b best), on a manual clock at 10 ms per request. */
function trained(success: readonly number[]) {
  const t = testEngine(testConfig(yaml('{ objective: 0.9, window: 10m }')), 3);
  const route = t.engine.route('chat')!;
  const rng = createRng(4);
  for (let i = 0; i < 1500; i++) {
    const d = t.engine.decide(route, null);
    t.engine.onResponse(d, rng.next() < success[d.arm]! ? 200 : 500, undefined, 5);
    t.clock.advance(10);
  }
  return { ...t, route, rng };
}
function sharesOf(engine: ReturnType<typeof trained>['engine'], route: ReturnType<typeof trained>['route'], n: number): number[] {
  const c = [0, 0, 0];
  for (let i = 0; i < n; i++) c[engine.decide(route, null).arm]!++;
  return c.map((x) => x / n);
}

describe('error-budget-aware exploration (manual clock)', () => {
  it('a healthy SLO does not throttle: every arm keeps its exploration floor', () => {
    const { engine, route } = trained([0.97, 0.995, 0.97]);
    expect(route.slo!.remaining(engine.clock.now())).toBeGreaterThan(0.75);
    const s = sharesOf(engine, route, 2000);
    expect(s[0]).toBeGreaterThan(0.08);
    expect(s[2]).toBeGreaterThan(0.08);
    expect(engine.shares(route)[0]).toBeGreaterThanOrEqual(0.1 - 1e-9);
  });

  it('an SLO burning fast stops exploring: every decision to the incumbent, floor and all; it resumes once the window has moved past the burn', () => {
    const { engine, route, clock, rng } = trained([0.97, 0.995, 0.97]);
    // An incident: 80 % of all requests fail for 30 s.
    for (let i = 0; i < 300; i++) {
      const d = engine.decide(route, null);
      engine.onResponse(d, rng.next() < 0.2 ? 200 : 500, undefined, 5);
      clock.advance(100);
    }
    expect(route.slo!.remaining(clock.now())).toBeLessThanOrEqual(0.5);
    expect(route.slo!.burnRate(clock.now())).toBeGreaterThan(1);
    const s = sharesOf(engine, route, 2000);
    expect(s[1]).toBe(1);
    expect(Array.from(engine.shares(route))).toEqual([0, 1, 0]);
    clock.advance(11 * MIN);
    const after = sharesOf(engine, route, 2000);
    expect(after[0]).toBeGreaterThan(0.08);
    expect(after[2]).toBeGreaterThan(0.08);
  });

  it('between the thresholds exploration shrinks in proportion: shares = scale × policy + (1 − scale) on the incumbent', () => {
    const { engine, route, clock } = trained([0.97, 0.995, 0.97]);
    const scale = route.slo!.explorationScale(clock.now());
    const full = Array.from(engine.shares(route));
    for (let i = 0; i < 60; i++) route.slo!.record(false, clock.now());
    const s = route.slo!.explorationScale(clock.now());
    expect(scale).toBe(1);
    expect(s).toBeGreaterThan(0);
    expect(s).toBeLessThan(1);
    clock.advance(300); // past the 250 ms propensity cache
    const now = Array.from(engine.shares(route));
    expect(now[0]).toBeCloseTo(s * full[0]!, 2);
    expect(now[2]).toBeCloseTo(s * full[2]!, 2);
    expect(now.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  });
});
