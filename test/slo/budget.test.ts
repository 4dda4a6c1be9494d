import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/metrics.js';
import { refreshArmGauges } from '../../src/runtime/gauges.js';
import { SloBudget } from '../../src/slo/budget.js';
import { createRng } from '../../src/util/rng.js';
import { testConfig } from '../support/engine.js';
import { engineFleet } from '../support/engine-fleet.js';

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

const yaml = (replica: string) => `
replica_id: ${replica}
routes:
  - name: chat
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    policy: { type: thompson, min_share: 0.1 }
    sticky: null
    guardrails: null
    slo: { objective: 0.9, window: 10m }
`;

type Replica = ReturnType<typeof engineFleet>['replicas'][number];

/** Two replicas gossiping in process; 1,500 decisions on each answered with per-arm success rates (model-b best), 10 ms apart on a manual clock. */
async function trained(success: readonly number[]) {
  const f = engineFleet([testConfig(yaml('r1')), testConfig(yaml('r2'))], 4);
  const rng = createRng(4);
  for (let i = 0; i < 1500; i++) {
    for (const r of f.replicas) serve(r, rng, success);
    f.clock.advance(10);
  }
  await f.gossip(2);
  return { ...f, rng, r1: f.replicas[0]!, r2: f.replicas[1]! };
}
function serve(r: Replica, rng: ReturnType<typeof createRng>, success: readonly number[]): void {
  const route = r.engine.route('chat')!;
  const d = r.engine.decide(route, null);
  r.engine.onResponse(d, rng.next() < success[d.arm]! ? 200 : 500, undefined, 5);
}
function sharesOf(r: Replica, n: number): number[] {
  const route = r.engine.route('chat')!;
  const c = [0, 0, 0];
  for (let i = 0; i < n; i++) c[r.engine.decide(route, null).arm]!++;
  return c.map((x) => x / n);
}
/** This replica's own outcomes alone (its slot's tally), as a budget would read them without the fleet's. */
function ownRemaining(r: Replica, now: number): number {
  const local = new SloBudget({ objective: 0.9, windowMs: 10 * MIN, throttleBelow: 0.75, stopBelow: 0.5 });
  for (const [b, total, failed] of r.state.ownSlot().slo?.chat?.buckets ?? []) {
    for (let i = 0; i < total; i++) local.record(i >= failed, b * (10 * MIN / 60));
  }
  return local.remaining(now);
}

describe('error-budget-aware exploration, fleet-wide (two replicas, manual clock)', () => {
  it('a healthy SLO does not throttle: every arm keeps its exploration floor', async () => {
    const { r2, clock } = await trained([0.97, 0.995, 0.97]);
    const route = r2.engine.route('chat')!;
    expect(route.slo!.remaining(clock.now())).toBeGreaterThan(0.75);
    const s = sharesOf(r2, 2000);
    expect(s[0]).toBeGreaterThan(0.08);
    expect(s[2]).toBeGreaterThan(0.08);
    expect(r2.engine.shares(route)[0]).toBeGreaterThanOrEqual(0.1 - 1e-9);
  });

  it('an SLO burning fast on one replica stops exploration on the other: every decision to the incumbent; it resumes once the window has moved past the burn', async () => {
    const { r1, r2, clock, rng, gossip } = await trained([0.97, 0.995, 0.97]);
    const route = r2.engine.route('chat')!;
    // An incident seen by replica 1 only (it takes all the traffic meanwhile): 80 % of its requests fail for 60 s.
    for (let i = 0; i < 600; i++) {
      serve(r1, rng, [0.2, 0.2, 0.2]);
      clock.advance(100);
    }
    // Before gossip replica 2 still sees a healthy budget and explores.
    expect(route.slo!.remaining(clock.now())).toBeGreaterThan(0.75);
    await gossip(2);
    expect(ownRemaining(r2, clock.now())).toBeGreaterThan(0.75);
    expect(route.slo!.remaining(clock.now())).toBeLessThanOrEqual(0.5);
    expect(route.slo!.burnRate(clock.now())).toBeGreaterThan(1);
    // Both replicas read the same fleet budget.
    expect(r1.engine.route('chat')!.slo!.remaining(clock.now())).toBeCloseTo(route.slo!.remaining(clock.now()), 12);
    const s = sharesOf(r2, 2000);
    expect(s[1]).toBe(1);
    clock.advance(300); // past the 250 ms propensity cache
    expect(Array.from(r2.engine.shares(route))).toEqual([0, 1, 0]);
    clock.advance(11 * MIN);
    await gossip(2);
    const after = sharesOf(r2, 2000);
    expect(after[0]).toBeGreaterThan(0.08);
    expect(after[2]).toBeGreaterThan(0.08);
  });

  it('between the thresholds exploration shrinks in proportion: shares = scale × policy + (1 − scale) on the incumbent', async () => {
    const { r1, r2, clock, gossip } = await trained([0.97, 0.995, 0.97]);
    const route = r2.engine.route('chat')!;
    const scale = route.slo!.explorationScale(clock.now());
    const full = Array.from(r2.engine.shares(route));
    // 120 failures on replica 1 (of ~3,000 fleet requests in the window).
    for (let i = 0; i < 120; i++) r1.engine.route('chat')!.slo!.record(false, clock.now());
    await gossip(2);
    const s = route.slo!.explorationScale(clock.now());
    expect(scale).toBe(1);
    expect(s).toBeGreaterThan(0);
    expect(s).toBeLessThan(1);
    clock.advance(300); // past the 250 ms propensity cache
    const now = Array.from(r2.engine.shares(route));
    expect(now[0]).toBeCloseTo(s * full[0]!, 2);
    expect(now[2]).toBeCloseTo(s * full[2]!, 2);
    expect(now.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  });
});

describe('SLO metrics', () => {
  it('exposes the fleet budget remaining and burn rate per route as Prometheus gauges', async () => {
    const { r1, r2, clock, rng, gossip } = await trained([0.97, 0.995, 0.97]);
    for (let i = 0; i < 600; i++) {
      serve(r1, rng, [0.2, 0.2, 0.2]);
      clock.advance(100);
    }
    await gossip(2);
    const metrics = createMetrics(new Registry());
    refreshArmGauges(r2.engine, metrics);
    const text = await metrics.registry.metrics();
    const value = (name: string) => Number(new RegExp(`^${name}\\{route="chat"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    const slo = r2.engine.route('chat')!.slo!;
    expect(value('envoy_bandit_slo_budget_remaining')).toBe(slo.remaining(clock.now()));
    expect(value('envoy_bandit_slo_budget_remaining')).toBe(0);
    expect(value('envoy_bandit_slo_burn_rate')).toBeCloseTo(slo.burnRate(clock.now()), 12);
    expect(value('envoy_bandit_slo_burn_rate')).toBeGreaterThan(5);
  });
});
