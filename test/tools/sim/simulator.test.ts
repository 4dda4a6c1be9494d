import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS, builtinScenario } from '../../../src/tools/sim/builtins.js';
import { BUILTIN_POLICIES, type SimPolicy } from '../../../src/tools/sim/policies.js';
import { scenarioFromValue } from '../../../src/tools/sim/scenario.js';
import { CURVE_POINTS, runScenario } from '../../../src/tools/sim/simulator.js';

const policy = (name: string): SimPolicy => BUILTIN_POLICIES.find((p) => p.name === name)!;
const scenario = (name: string) => builtinScenario(name)!;

describe('simulator', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const s = scenario('bernoulli-5');
    const a = runScenario(s, policy('thompson'), { seed: 7, durationS: 20 });
    const b = runScenario(s, policy('thompson'), { seed: 7, durationS: 20 });
    const c = runScenario(s, policy('thompson'), { seed: 8, durationS: 20 });
    expect(b).toEqual(a);
    expect(c.regret).not.toBe(a.regret);
    expect(a.requests).toBe(2000);
    expect(Object.values(a.armCounts).reduce((x, y) => x + y, 0)).toBe(a.requests);
  });

  it('regret is ≥ 0 for every policy and exactly 0 for the oracle, on every built-in scenario', () => {
    for (const s of BUILTIN_SCENARIOS) {
      const oracle = runScenario(s, policy('oracle'), { seed: 3, durationS: Math.min(s.duration, 45) });
      expect(oracle.regret, s.name).toBe(0);
      expect(oracle.bestShare, s.name).toBe(1);
      for (const name of ['static', 'thompson', 'discounted_ucb1']) {
        const r = runScenario(s, policy(name), { seed: 3, durationS: 20 });
        expect(r.regret, `${s.name}/${name}`).toBeGreaterThanOrEqual(0);
        expect(r.curve).toHaveLength(CURVE_POINTS);
        for (let i = 1; i < r.curve.length; i++) expect(r.curve[i]!).toBeGreaterThanOrEqual(r.curve[i - 1]!);
        expect(r.curve[CURVE_POINTS - 1]).toBeCloseTo(r.regret, 9);
      }
    }
  });

  it('static A/B regret matches its expectation and learning beats it on a stationary scenario', () => {
    const s = scenario('bernoulli-2');
    const st = runScenario(s, policy('static'), { seed: 1 });
    // Half the traffic on the 0.55 arm: expected regret 0.05 × 6000 / 2 = 150 (binomial sd ≈ 1.9).
    expect(st.regret).toBeGreaterThan(140);
    expect(st.regret).toBeLessThan(160);
    const ts = runScenario(s, policy('thompson'), { seed: 1 });
    expect(ts.regret).toBeLessThan(st.regret * 0.6);
    expect(ts.bestShareTail).toBeGreaterThan(0.8);
  });

  it('cold start: an arm added mid-run enters through reload and wins traffic; naive follows the newest arm', () => {
    const s = scenario('cold-start');
    const naive = runScenario(s, policy('naive'), { seed: 2 });
    // Naive sits on b (0.55 vs a 0.60) for 30 s, then on c, the best: regret exactly 0.05 × 3000.
    expect(naive.regret).toBeCloseTo(150, 6);
    expect(naive.armCounts).toEqual({ b: 3000, c: 6000 });
    const ts = runScenario(s, policy('thompson'), { seed: 2 });
    expect(ts.armCounts.c).toBeGreaterThan(4000);
    expect(ts.bestShareTail).toBeGreaterThan(0.9);
  });

  it('delayed feedback: rewards that never arrive in time mean no learning', () => {
    const base = {
      name: 'late',
      duration: 20,
      min_share: 0,
      arms: [
        { name: 'a', p: 0.2 },
        { name: 'b', p: 0.8 },
      ],
    };
    const never = scenarioFromValue({ ...base, feedback_delay: 30 });
    const soon = scenarioFromValue({ ...base, feedback_delay: 1 });
    if (!never.ok || !soon.ok) throw new Error('scenario invalid');
    const blind = runScenario(never.value, policy('thompson'), { seed: 4 });
    const late = runScenario(soon.value, policy('thompson'), { seed: 4 });
    // With no reward applied before the end, Thompson samples the prior: about half on each arm.
    expect(blind.bestShare).toBeGreaterThan(0.4);
    expect(blind.bestShare).toBeLessThan(0.6);
    // The realized reward is still counted at the response.
    expect(blind.reward).toBeGreaterThan(0.4 * blind.requests);
    // A 1 s delay only slows learning down.
    expect(late.bestShareTail).toBeGreaterThan(0.9);
  });

  it('continuous arms: the latency-shaped reward ranks the arms as the oracle does', () => {
    const s = scenario('continuous');
    const r = runScenario(s, policy('thompson'), { seed: 5, durationS: 30 });
    const st = runScenario(s, policy('static'), { seed: 5, durationS: 30 });
    expect(r.bestShareTail).toBeGreaterThan(0.8);
    expect(r.regret).toBeLessThan(st.regret / 2);
    for (const x of [r, st]) expect(x.reward / x.requests).toBeGreaterThan(0.85);
  });
});
