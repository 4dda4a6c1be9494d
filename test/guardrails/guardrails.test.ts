import { describe, expect, it } from 'vitest';
import { Guardrails } from '../../src/guardrails/guardrails.js';
import { armStateOf } from '../../src/runtime/gauges.js';
import { ManualClock } from '../../src/util/clock.js';
import { createRng } from '../../src/util/rng.js';
import { ROUTE, T0, constant, counterValue, guardConfig, headerList, lognormal, makeRig, simulate, totalTrips, type Behaviours } from '../support/guardrails-rig.js';

const healthy = { errorRate: 0.01, latency: lognormal(50, 0.2) };
const failing = { errorRate: 0.5, latency: lognormal(50, 0.2) };

/** b fails from `from` ms until `to` ms of the run; a is always healthy. */
const bFails = (from: number, to = Number.POSITIVE_INFINITY): Behaviours => (arm, t) => (arm === 'b' && t >= from && t < to ? failing : healthy);

describe('guardrails on a live engine (simulated time)', () => {
  it('trip → quarantine → cooldown → probation at the floor share → release', async () => {
    const rig = makeRig(guardConfig({ guardrails: '{ cooldown: 5s }' }));
    const { engine, guardrails, clock } = rig;
    const route = engine.route(ROUTE)!;
    const rng = createRng(1);
    // Warm up (baseline), then b starts failing at 20 s; stop when quarantined.
    simulate(rig, { rps: 200, durationMs: 40_000, behaviours: bFails(20_000), rng, onStep: () => guardrails.phase(ROUTE, 'b') === 'quarantined' });
    expect(guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    const trippedAt = clock.now();
    expect(trippedAt - T0 - 20_000).toBeLessThan(2000);
    expect(engine.state.activeFlags(ROUTE, 'b', clock.now())).toMatchObject([{ rule: 'ewma_error_rate', until: trippedAt + 5000, replica: 'r1', who: 'guardrail' }]);
    expect(armStateOf(engine, ROUTE, 1)).toBe('quarantined');
    expect(route.eligibility.quarantineRule[1]).toMatch(/^ewma_error_rate@r1$/);
    expect(await counterValue(rig.metrics, 'envoy_bandit_guardrail_trips_total', { route: ROUTE, arm: 'b', rule: 'ewma_error_rate' })).toBe(1);
    const trips = rig.logs.filter((l) => l.msg.startsWith('guardrail trip'));
    expect(trips).toHaveLength(1);
    expect(trips[0]).toMatchObject({ level: 40, route: ROUTE, arm: 'b', rule: 'ewma_error_rate', samples: expect.any(Number), value: expect.any(Number), limit: expect.any(Number) });
    expect((trips[0]!.value as number) > (trips[0]!.limit as number)).toBe(true);
    // /v1/routes readings for the arm
    const shown = rig.guardrails.readings(ROUTE, 'b') as { guardrail: { phase: string; verdict: { kind: string; rule: string } } };
    expect(shown.guardrail).toMatchObject({ phase: 'quarantined', verdict: { kind: 'fail', rule: 'ewma_error_rate' } });

    // During the cooldown no new traffic reaches b (b is still failing).
    const cool = simulate(rig, { rps: 200, durationMs: 4900, behaviours: bFails(-1), rng });
    expect(cool.byArm.b ?? 0).toBe(0);
    expect(cool.byArm.a).toBe(cool.requests);

    // b has recovered. After the cooldown: probation at the floor share (min_share 0.05).
    let probationDecisions = 0;
    let sawProbation = false;
    const probe = simulate(rig, {
      rps: 200,
      durationMs: 30_000,
      behaviours: () => healthy,
      rng,
      onStep: () => {
        if (guardrails.phase(ROUTE, 'b') === 'probation') sawProbation = true;
        return sawProbation && guardrails.phase(ROUTE, 'b') === 'active';
      },
    });
    expect(sawProbation).toBe(true);
    expect(guardrails.phase(ROUTE, 'b')).toBe('active');
    probationDecisions = probe.byArm.b ?? 0;
    // min_samples (30) fresh samples at ~5% of 200 rps: a few seconds, and only a slice of traffic.
    expect(probationDecisions).toBeGreaterThanOrEqual(30);
    expect(probationDecisions / probe.requests).toBeLessThan(0.12);
    expect(rig.logs.filter((l) => l.msg.startsWith('guardrail release'))).toHaveLength(1);
    expect(route.eligibility.probationCount).toBe(0);
    expect(engine.state.activeFlags(ROUTE, 'b', clock.now())).toHaveLength(0);
    expect(armStateOf(engine, ROUTE, 1)).toBe('active');
    // Released: the policy may send b its share again.
    const after = simulate(rig, { rps: 200, durationMs: 60_000, behaviours: () => healthy, rng });
    expect((after.byArm.b ?? 0) / after.requests).toBeGreaterThan(0.15);
  });

  it('probation shares: the probation arm gets exactly its slice and is outside the policy input', () => {
    const rig = makeRig(guardConfig({ arms: ['a', 'b', 'c'] }));
    const { engine } = rig;
    const route = engine.route(ROUTE)!;
    engine.setProbation(ROUTE, 'c', true);
    const shares = engine.shares(route, rig.clock.now());
    expect(shares[2]).toBeCloseTo(0.05, 12);
    expect(shares[0]! + shares[1]!).toBeCloseTo(0.95, 12);
    let c = 0;
    const N = 20_000;
    for (let i = 0; i < N; i++) {
      const d = engine.decide(route, null);
      expect(d.reason).toBe('policy');
      if (d.arm === 2) c++;
    }
    expect(c / N).toBeGreaterThan(0.04);
    expect(c / N).toBeLessThan(0.06);
    // When only probation arms are eligible they are served by the policy (no slice to carve).
    engine.quarantineArm(ROUTE, 'a', 'manual');
    engine.quarantineArm(ROUTE, 'b', 'manual');
    const only = engine.shares(route, rig.clock.now() + 1000);
    expect(only[2]).toBe(1);
    expect(engine.decide(route, null).arm).toBe(2);
  });

  it('a failed probation re-quarantines with a doubled cooldown', () => {
    const rig = makeRig(guardConfig({ guardrails: '{ cooldown: 5s }' }));
    const { guardrails, clock, engine } = rig;
    const rng = createRng(2);
    simulate(rig, { rps: 200, durationMs: 40_000, behaviours: bFails(20_000), rng, onStep: () => guardrails.phase(ROUTE, 'b') === 'quarantined' });
    let entered = false;
    simulate(rig, {
      rps: 200,
      durationMs: 60_000,
      behaviours: bFails(-1),
      rng,
      onStep: () => {
        if (guardrails.phase(ROUTE, 'b') === 'probation') entered = true;
        return entered && guardrails.phase(ROUTE, 'b') === 'quarantined';
      },
    });
    expect(entered).toBe(true);
    expect(guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    const flags = engine.state.activeFlags(ROUTE, 'b', clock.now());
    expect(flags[0]!.until - clock.now()).toBe(10_000);
    const second = rig.logs.filter((l) => l.msg.startsWith('guardrail trip'));
    expect(second).toHaveLength(2);
    expect(second[1]).toMatchObject({ during_probation: true, cooldown_ms: 10_000 });
  });

  it('inconclusive never quarantines: a failing arm with fewer than min_samples in the window stays in', async () => {
    const rig = makeRig(guardConfig({ guardrails: '{ min_samples: 30, window: 10s }' }));
    const rng = createRng(3);
    const stats = simulate(rig, { rps: 2, durationMs: 120_000, behaviours: (arm) => (arm === 'b' ? { errorRate: 1, latency: constant(5000) } : healthy), rng });
    expect(stats.byArm.b ?? 0).toBeGreaterThan(0);
    expect(rig.guardrails.phase(ROUTE, 'b')).toBe('active');
    expect(rig.guardrails.lastVerdict(ROUTE, 'b')?.kind).toBe('inconclusive');
    expect(await totalTrips(rig.metrics)).toBe(0);
  });

  it('inconclusive never releases: a probation with too few fresh samples stays in probation', () => {
    const rig = makeRig(guardConfig({ guardrails: '{ cooldown: 1s, min_samples: 1000 }' }));
    const { engine, guardrails, clock } = rig;
    engine.quarantineArm(ROUTE, 'b', 'manual', clock.now() + 1000);
    guardrails.tick();
    expect(guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    simulate(rig, { rps: 200, durationMs: 20_000, behaviours: () => healthy, rng: createRng(4) });
    expect(guardrails.phase(ROUTE, 'b')).toBe('probation');
    expect(guardrails.lastVerdict(ROUTE, 'b')).toMatchObject({ kind: 'inconclusive', needed: 1000 });
    expect(engine.route(ROUTE)!.eligibility.probation[1]).toBe(1);
  });

  it('alert_only: counts and logs the trip once, leaves traffic alone', async () => {
    const rig = makeRig(guardConfig({ guardrails: '{ action: alert_only }' }));
    const rng = createRng(5);
    simulate(rig, { rps: 200, durationMs: 20_000, behaviours: () => healthy, rng });
    const run = simulate(rig, { rps: 200, durationMs: 8_000, behaviours: bFails(0), rng });
    expect(rig.guardrails.phase(ROUTE, 'b')).toBe('active');
    expect(rig.engine.state.activeFlags(ROUTE, 'b', rig.clock.now())).toHaveLength(0);
    expect(await totalTrips(rig.metrics)).toBe(1);
    expect(rig.logs.filter((l) => l.msg.startsWith('guardrail trip'))).toHaveLength(1);
    expect(run.byArm.b ?? 0).toBeGreaterThan(100);
  });

  it('sticky sessions pinned to a quarantined arm move to an eligible arm', () => {
    const rig = makeRig(guardConfig());
    const { engine, clock } = rig;
    const route = engine.route(ROUTE)!;
    const sessions = Array.from({ length: 200 }, (_, i) => `s${i}`);
    const first = new Map(sessions.map((s) => [s, engine.decide(route, headerList({ 'x-session-id': s })).arm]));
    const onB = sessions.filter((s) => first.get(s) === 1);
    expect(onB.length).toBeGreaterThan(0);
    for (const s of onB) expect(engine.decide(route, headerList({ 'x-session-id': s }))).toMatchObject({ arm: 1, reason: 'sticky' });
    engine.quarantineArm(ROUTE, 'b', 'error_rate', clock.now() + 60_000);
    for (const s of onB) expect(engine.decide(route, headerList({ 'x-session-id': s }))).toMatchObject({ arm: 0, reason: 'policy' });
    // and they stay on their new arm
    for (const s of onB) expect(engine.decide(route, headerList({ 'x-session-id': s }))).toMatchObject({ arm: 0, reason: 'sticky' });
  });

  it('every arm quarantined: traffic goes to the default arm with reason quarantine', () => {
    const rig = makeRig(guardConfig());
    const { engine, clock } = rig;
    engine.quarantineArm(ROUTE, 'a', 'error_rate', clock.now() + 1000);
    engine.quarantineArm(ROUTE, 'b', 'error_rate', clock.now() + 1000);
    expect(engine.decide(engine.route(ROUTE)!, null)).toMatchObject({ arm: 0, reason: 'quarantine' });
  });

  it('an operator release before the cooldown ends makes the arm active (baseline reset), not probation', () => {
    const rig = makeRig(guardConfig({ guardrails: '{ cooldown: 60s }' }));
    const { engine, guardrails } = rig;
    const rng = createRng(6);
    simulate(rig, { rps: 200, durationMs: 40_000, behaviours: bFails(20_000), rng, onStep: () => guardrails.phase(ROUTE, 'b') === 'quarantined' });
    expect(guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    engine.releaseArm(ROUTE, 'b');
    guardrails.tick();
    expect(guardrails.phase(ROUTE, 'b')).toBe('active');
    expect(engine.route(ROUTE)!.eligibility.probation[1]).toBe(0);
    const r = rig.guardrails.readings(ROUTE, 'b') as { guardrail: { phase: string; baseline: { error_rate: { n: number } } } };
    expect(r.guardrail.phase).toBe('active');
    expect(r.guardrail.baseline.error_rate.n).toBe(0);
  });

  it('two replicas: a trip on one quarantines the arm on both after one merge; the other follows into probation', () => {
    const clock = new ManualClock(T0);
    const A = makeRig(guardConfig({ replica: 'r1', guardrails: '{ cooldown: 5s }' }), { clock, seed: 1 });
    const B = makeRig(guardConfig({ replica: 'r2', guardrails: '{ cooldown: 5s }' }), { clock, seed: 2 });
    const rng = createRng(7);
    simulate(A, { rps: 200, durationMs: 40_000, behaviours: bFails(20_000), rng, onStep: () => A.guardrails.phase(ROUTE, 'b') === 'quarantined' });
    expect(A.guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    const routeB = B.engine.route(ROUTE)!;
    // B saw no failure; before the merge it still routes to b.
    expect(B.engine.shares(routeB, clock.now())[1]).toBeGreaterThan(0);
    B.state.merge(A.state.snapshot());
    const picks = Array.from({ length: 500 }, () => B.engine.decide(routeB, null).arm);
    expect(picks.every((a) => a === 0)).toBe(true);
    expect(armStateOf(B.engine, ROUTE, 1)).toBe('quarantined');
    expect(routeB.eligibility.quarantineRule[1]).toBe('ewma_error_rate@r1');
    B.guardrails.tick();
    expect(B.guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    // B did not trip itself: nothing counted there.
    clock.advance(5001);
    B.guardrails.tick();
    expect(B.guardrails.phase(ROUTE, 'b')).toBe('probation');
    expect(routeB.eligibility.probation[1]).toBe(1);
  });

  it('reconfigure keeps phases and re-applies probation on the new route runtime', () => {
    const rig = makeRig(guardConfig({ guardrails: '{ cooldown: 1s }' }));
    const { engine, guardrails, clock } = rig;
    engine.quarantineArm(ROUTE, 'b', 'manual', clock.now() + 1000);
    guardrails.tick();
    clock.advance(1000);
    guardrails.tick();
    expect(guardrails.phase(ROUTE, 'b')).toBe('probation');
    const cfg = guardConfig({ guardrails: '{ cooldown: 1s }' });
    engine.reload(cfg);
    guardrails.reconfigure(cfg);
    expect(guardrails.phase(ROUTE, 'b')).toBe('probation');
    expect(engine.route(ROUTE)!.eligibility.probation[1]).toBe(1);
    // A route without guardrails is not tracked.
    const off = guardConfig({ guardrails: 'null' });
    engine.reload(off);
    guardrails.reconfigure(off);
    expect(guardrails.phase(ROUTE, 'b')).toBeUndefined();
    expect(new Guardrails({ engine, clock, metrics: null, logger: null }).phase(ROUTE, 'a')).toBeUndefined();
  });
});
