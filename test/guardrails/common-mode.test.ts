import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/util/rng.js';
import { ROUTE, counterValue, guardConfig, lognormal, makeRig, simulate, totalTrips, type ArmBehaviour, type Behaviours } from '../support/guardrails-rig.js';

const ARMS = ['a', 'b', 'c'];
const healthy: ArmBehaviour = { errorRate: 0.01, latency: lognormal(50, 0.2) };
const slow: ArmBehaviour = { errorRate: 0.01, latency: lognormal(2000, 0.1) };
const failing: ArmBehaviour = { errorRate: 0.5, latency: lognormal(50, 0.2) };

/** `bad` for the arms in `who` from `from` ms to `to` ms of the run, healthy otherwise. */
const during = (who: string[], bad: ArmBehaviour, from: number, to: number): Behaviours => (arm, t) => (who.includes(arm) && t >= from && t < to ? bad : healthy);

function warmRig(guardrails = '{}') {
  const rig = makeRig(guardConfig({ arms: ARMS, guardrails, policy: '{ type: static, weights: { a: 1, b: 1, c: 1 } }' }));
  simulate(rig, { rps: 200, durationMs: 20_000, behaviours: () => healthy, rng: createRng(11) });
  return rig;
}

describe('guardrails: a sick host is not a sick arm (simulated time, default config, 200 rps)', () => {
  it('all three arms slowed together for 2 s quarantine nothing; the hold is counted as common mode', async () => {
    const rig = warmRig();
    simulate(rig, { rps: 200, durationMs: 30_000, behaviours: during(ARMS, slow, 1_000, 3_000), rng: createRng(12) });
    expect(await totalTrips(rig.metrics)).toBe(0);
    for (const arm of ARMS) expect(rig.guardrails.phase(ROUTE, arm)).toBe('active');
    const holds = await Promise.all(ARMS.map((arm) => counterValue(rig.metrics, 'envoy_bandit_guardrail_holds_total', { route: ROUTE, arm, reason: 'common_mode' })));
    expect(holds.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
  });

  it('one arm slowed alone for the same 2 s is quarantined', async () => {
    const rig = warmRig();
    simulate(rig, { rps: 200, durationMs: 10_000, behaviours: during(['b'], slow, 1_000, 3_000), rng: createRng(12), onStep: () => rig.guardrails.phase(ROUTE, 'b') === 'quarantined' });
    expect(rig.guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    expect(rig.guardrails.phase(ROUTE, 'a')).toBe('active');
    expect(rig.guardrails.phase(ROUTE, 'c')).toBe('active');
  });

  it('50 % errors on every arm at once for 3 s quarantine nothing; on one arm it trips', async () => {
    const rig = warmRig();
    simulate(rig, { rps: 200, durationMs: 30_000, behaviours: during(ARMS, failing, 1_000, 4_000), rng: createRng(13) });
    expect(await totalTrips(rig.metrics)).toBe(0);
    const one = warmRig();
    simulate(one, { rps: 200, durationMs: 10_000, behaviours: during(['c'], failing, 1_000, 4_000), rng: createRng(13), onStep: () => one.guardrails.phase(ROUTE, 'c') === 'quarantined' });
    expect(one.guardrails.phase(ROUTE, 'c')).toBe('quarantined');
  });

  it('one arm at 70 % errors while a loaded host lifts its peers to 20 % is still a sick arm', async () => {
    const rig = warmRig();
    const raised: ArmBehaviour = { errorRate: 0.2, latency: lognormal(50, 0.2) };
    const sick: ArmBehaviour = { errorRate: 0.7, latency: lognormal(50, 0.2) };
    simulate(rig, { rps: 200, durationMs: 10_000, behaviours: (arm, t) => (t < 1_000 ? healthy : arm === 'b' ? sick : raised), rng: createRng(18), onStep: () => rig.guardrails.phase(ROUTE, 'b') === 'quarantined' });
    expect(rig.guardrails.phase(ROUTE, 'b')).toBe('quarantined');
  });

  it('two arms failing while one stays healthy: both are quarantined, the healthy one serves', async () => {
    const rig = warmRig();
    simulate(rig, { rps: 200, durationMs: 15_000, behaviours: during(['b', 'c'], failing, 1_000, 60_000), rng: createRng(14) });
    expect(rig.guardrails.phase(ROUTE, 'b')).toBe('quarantined');
    expect(rig.guardrails.phase(ROUTE, 'c')).toBe('quarantined');
    expect(rig.guardrails.phase(ROUTE, 'a')).toBe('active');
  });

  it('every backend really failing, one after another: guardrails never quarantine the last eligible arm', async () => {
    const rig = warmRig();
    const failFrom = (arms: string[]): Behaviours => (arm) => (arms.includes(arm) ? failing : healthy);
    const until = (arm: string) => () => rig.guardrails.phase(ROUTE, arm) === 'quarantined';
    simulate(rig, { rps: 200, durationMs: 8_000, behaviours: failFrom(['b']), rng: createRng(15), onStep: until('b') });
    simulate(rig, { rps: 200, durationMs: 8_000, behaviours: failFrom(['b', 'c']), rng: createRng(16), onStep: until('c') });
    expect([rig.guardrails.phase(ROUTE, 'b'), rig.guardrails.phase(ROUTE, 'c')]).toEqual(['quarantined', 'quarantined']);
    // Now a fails too: it is the last eligible arm, and it keeps serving.
    const all = simulate(rig, { rps: 200, durationMs: 15_000, behaviours: failFrom(ARMS), rng: createRng(17) });
    expect(rig.guardrails.phase(ROUTE, 'a')).toBe('active');
    expect(all.byArm.a).toBe(all.requests);
    expect(await counterValue(rig.metrics, 'envoy_bandit_guardrail_holds_total', { route: ROUTE, arm: 'a', reason: 'last_arm' })).toBe(1);
    expect(rig.logs.filter((l) => l.msg.includes('last eligible arm stays in service'))).toHaveLength(1);
  });
});
