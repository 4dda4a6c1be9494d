/**
 * The non-learning baselines (static split, fixed arm), the exploration floor,
 * and the exact propensities of UCB1 and epsilon-greedy.
 */
import { describe, expect, it } from 'vitest';
import { StaticPolicy } from '../../src/policy/static.js';
import { FixedPolicy } from '../../src/policy/fixed.js';
import { Ucb1Policy } from '../../src/policy/ucb1.js';
import { EpsilonGreedyPolicy, epsilonAt } from '../../src/policy/epsilon-greedy.js';
import { chooseWithFloor, propensitiesWithFloor } from '../../src/policy/floor.js';
import { policyInputFrom } from '../../src/policy/input.js';
import { binomialSd, empiricalShares } from '../support/policy-arbitraries.js';

const ARMS = ['a', 'b', 'c', 'd'];
const empty = { n: 0, sum: 0, sumSq: 0 };
const DRAWS = 20_000;

describe('static', () => {
  const policy = new StaticPolicy({ a: 6, b: 3, c: 1, d: 0 }, ARMS);

  it('empirical shares over 20,000 draws match the weights within 4 binomial sd', () => {
    // sd = sqrt(p(1-p)/N): 0.0035 at p = 0.6, so 4 sd ≈ 0.014; a zero weight must stay at 0.
    const input = policyInputFrom([empty, empty, empty, empty]);
    const shares = empiricalShares((rng) => policy.choose(input, rng), 4, DRAWS, 11);
    const want = [0.6, 0.3, 0.1, 0];
    want.forEach((p, i) => expect(Math.abs(shares[i]! - p)).toBeLessThanOrEqual(4 * binomialSd(p, DRAWS)));
    const out = new Float64Array(4);
    policy.propensities(input, out);
    want.forEach((p, i) => expect(out[i]!).toBeCloseTo(p, 12));
  });

  it('renormalizes over the eligible arms, by configured index not position', () => {
    // Arm "a" quarantined: eligible are d, b (in that order) → weights 0 and 3 → b always.
    const input = policyInputFrom([empty, empty], { armIndex: [3, 1] });
    const out = new Float64Array(2);
    policy.propensities(input, out);
    expect(Array.from(out)).toEqual([0, 1]);
    const shares = empiricalShares((rng) => policy.choose(input, rng), 2, 1000, 3);
    expect(shares).toEqual([0, 1]);
  });

  it('is uniform when every eligible arm weighs 0', () => {
    const input = policyInputFrom([empty, empty], { armIndex: [3, 3] });
    const out = new Float64Array(2);
    policy.propensities(input, out);
    expect(Array.from(out)).toEqual([0.5, 0.5]);
    const shares = empiricalShares((rng) => policy.choose(input, rng), 2, DRAWS, 5);
    expect(Math.abs(shares[0]! - 0.5)).toBeLessThanOrEqual(4 * binomialSd(0.5, DRAWS));
  });

  it('ignores unknown names and non-positive weights', () => {
    const p = new StaticPolicy({ a: -1, b: Number.NaN, zzz: 5, c: 2 }, ARMS);
    expect(Array.from(p.weights)).toEqual([0, 0, 2, 0]);
  });
});

describe('fixed', () => {
  it('always picks the named arm when it is eligible', () => {
    const policy = new FixedPolicy('c', ARMS);
    const input = policyInputFrom([empty, empty, empty], { armIndex: [0, 2, 3] });
    expect(empiricalShares((rng) => policy.choose(input, rng), 3, 500, 1)).toEqual([0, 1, 0]);
    const out = new Float64Array(3);
    policy.propensities(input, out);
    expect(Array.from(out)).toEqual([0, 1, 0]);
  });

  it('falls back to uniform when the arm is quarantined', () => {
    const policy = new FixedPolicy('c', ARMS);
    const input = policyInputFrom([empty, empty, empty], { armIndex: [0, 1, 3] });
    const out = new Float64Array(3);
    policy.propensities(input, out);
    out.forEach((p) => expect(p).toBeCloseTo(1 / 3, 12));
    const shares = empiricalShares((rng) => policy.choose(input, rng), 3, DRAWS, 2);
    shares.forEach((s) => expect(Math.abs(s - 1 / 3)).toBeLessThanOrEqual(4 * binomialSd(1 / 3, DRAWS)));
  });
});

describe('exploration floor', () => {
  it('gives an arm the policy never picks ≈ minShare of traffic', () => {
    // Fixed on "a", 3 eligible arms, minShare 0.05: arm c gets exactly 0.05 in expectation;
    // sd over 20,000 draws is 0.0015, we allow 4 sd.
    const policy = new FixedPolicy('a', ARMS);
    const input = policyInputFrom([empty, empty, empty]);
    const shares = empiricalShares((rng) => chooseWithFloor(policy, input, rng, 0.05), 3, DRAWS, 8);
    expect(Math.abs(shares[2]! - 0.05)).toBeLessThanOrEqual(4 * binomialSd(0.05, DRAWS));
    expect(Math.abs(shares[0]! - 0.9)).toBeLessThanOrEqual(4 * binomialSd(0.9, DRAWS));
    const out = new Float64Array(3);
    propensitiesWithFloor(policy, input, 0.05, out);
    expect(out[0]!).toBeCloseTo(0.9, 12);
    expect(out[1]!).toBeCloseTo(0.05, 12);
    expect(out[2]!).toBeCloseTo(0.05, 12);
  });

  it('is uniform when k · minShare ≥ 1, and a no-op at 0', () => {
    const policy = new FixedPolicy('a', ARMS);
    const input = policyInputFrom([empty, empty, empty, empty]);
    const out = new Float64Array(4);
    propensitiesWithFloor(policy, input, 0.3, out);
    expect(Array.from(out)).toEqual([0.25, 0.25, 0.25, 0.25]);
    propensitiesWithFloor(policy, input, 0, out);
    expect(Array.from(out)).toEqual([1, 0, 0, 0]);
    const shares = empiricalShares((rng) => chooseWithFloor(policy, input, rng, 0.3), 4, DRAWS, 4);
    shares.forEach((s) => expect(Math.abs(s - 0.25)).toBeLessThanOrEqual(4 * binomialSd(0.25, DRAWS)));
  });
});

describe('ucb1', () => {
  it('tries untried arms first, uniformly among them', () => {
    const policy = new Ucb1Policy(Math.SQRT2);
    const input = policyInputFrom([{ n: 10, sum: 9, sumSq: 9 }, empty, { n: 5e-10, sum: 0, sumSq: 0 }]);
    const out = new Float64Array(3);
    policy.propensities(input, out);
    expect(Array.from(out)).toEqual([0, 0.5, 0.5]);
    const shares = empiricalShares((rng) => policy.choose(input, rng), 3, DRAWS, 6);
    expect(shares[0]).toBe(0);
    expect(Math.abs(shares[1]! - 0.5)).toBeLessThanOrEqual(4 * binomialSd(0.5, DRAWS));
  });

  it('picks the largest index mean + c·sqrt(ln t / n), splitting exact ties', () => {
    const policy = new Ucb1Policy(1);
    // t = 100: arm0 0.5 + sqrt(ln100/10) = 1.1786; arm1 0.6 + sqrt(ln100/50) = 0.9035.
    const input = policyInputFrom([{ n: 10, sum: 5, sumSq: 5 }, { n: 50, sum: 30, sumSq: 30 }], { total: 100 });
    const out = new Float64Array(2);
    policy.propensities(input, out);
    expect(Array.from(out)).toEqual([1, 0]);
    const tie = policyInputFrom([{ n: 4, sum: 2, sumSq: 2 }, { n: 4, sum: 2, sumSq: 2 }], { total: 0.5 });
    policy.propensities(tie, out);
    expect(Array.from(out)).toEqual([0.5, 0.5]);
    const shares = empiricalShares((rng) => policy.choose(tie, rng), 2, DRAWS, 12);
    expect(Math.abs(shares[0]! - 0.5)).toBeLessThanOrEqual(4 * binomialSd(0.5, DRAWS));
  });
});

describe('epsilon_greedy', () => {
  it('epsilon decays as epsilon / (1 + decay · t) and is clamped to [0, 1]', () => {
    expect(epsilonAt(0.2, 0, 1e9)).toBe(0.2);
    expect(epsilonAt(1, 0.01, 100)).toBeCloseTo(0.5, 12);
    expect(epsilonAt(3, 0, 0)).toBe(1);
    expect(epsilonAt(0.1, 1, -5)).toBe(0.1);
  });

  it('propensities are ε/k everywhere plus (1-ε) on the greedy arm; untried arms are greedy', () => {
    const policy = new EpsilonGreedyPolicy(0.3, 0);
    const input = policyInputFrom([{ n: 10, sum: 2, sumSq: 2 }, { n: 10, sum: 8, sumSq: 8 }, { n: 10, sum: 5, sumSq: 5 }]);
    const out = new Float64Array(3);
    policy.propensities(input, out);
    expect(out[0]!).toBeCloseTo(0.1, 12);
    expect(out[1]!).toBeCloseTo(0.8, 12);
    expect(out[2]!).toBeCloseTo(0.1, 12);
    const shares = empiricalShares((rng) => policy.choose(input, rng), 3, DRAWS, 13);
    [0.1, 0.8, 0.1].forEach((p, i) => expect(Math.abs(shares[i]! - p)).toBeLessThanOrEqual(4 * binomialSd(p, DRAWS)));

    const withNew = policyInputFrom([{ n: 10, sum: 8, sumSq: 8 }, empty]);
    const out2 = new Float64Array(2);
    policy.propensities(withNew, out2);
    expect(out2[1]!).toBeCloseTo(0.15 + 0.7, 12);
  });
});
