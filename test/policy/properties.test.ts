/**
 * Laws every policy obeys, for any statistics the engine could hand it:
 * a valid position, a proper distribution of propensities, the floor's
 * guarantee, and reproducibility from a seed.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ContextFreePolicyParams } from '../../src/config/types.js';
import { createPolicy } from '../../src/policy/registry.js';
import { chooseWithFloor, propensitiesWithFloor } from '../../src/policy/floor.js';
import { createRng } from '../../src/util/rng.js';
import { arbInput } from '../support/policy-arbitraries.js';

const RUNS = 200;
const ARM_NAMES = Array.from({ length: 16 }, (_, i) => `arm-${i}`);

const POLICIES: Array<[string, ContextFreePolicyParams]> = [
  ['thompson beta (uniform prior)', { type: 'thompson', model: 'beta', prior: { alpha: 1, beta: 1 } }],
  ['thompson beta (Jeffreys prior, shape < 1)', { type: 'thompson', model: 'beta', prior: { alpha: 0.5, beta: 0.5 } }],
  ['thompson gaussian', { type: 'thompson', model: 'gaussian', prior: { mu: 0, kappa: 0.01, alpha: 0.5, beta: 0.5 } }],
  ['ucb1', { type: 'ucb1', c: Math.SQRT2 }],
  ['ucb1 c=0 (greedy)', { type: 'ucb1', c: 0 }],
  ['epsilon_greedy fixed', { type: 'epsilon_greedy', epsilon: 0.1, decay: 0 }],
  ['epsilon_greedy decaying', { type: 'epsilon_greedy', epsilon: 1, decay: 0.01 }],
  ['static', { type: 'static', weights: { 'arm-0': 5, 'arm-3': 1, 'arm-7': 0, 'arm-9': 2.5, 'arm-15': 0.1 } }],
  ['fixed', { type: 'fixed', arm: 'arm-3' }],
  ['fixed (unknown arm)', { type: 'fixed', arm: 'nope' }],
];

const minShareArb = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.3, noNaN: true }), fc.constant(0.05));

describe.each(POLICIES)('%s', (_name, params) => {
  const policy = createPolicy(params, ARM_NAMES);

  it('chooses a valid position for any statistics', () => {
    fc.assert(
      fc.property(arbInput, fc.integer(), (input, seed) => {
        const rng = createRng(seed);
        for (let i = 0; i < 5; i++) {
          const pos = policy.choose(input, rng);
          expect(Number.isInteger(pos)).toBe(true);
          expect(pos).toBeGreaterThanOrEqual(0);
          expect(pos).toBeLessThan(input.k);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('has finite, non-negative propensities that sum to 1', () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const out = new Float64Array(input.k + 3).fill(-7);
        policy.propensities(input, out);
        let total = 0;
        for (let i = 0; i < input.k; i++) {
          expect(Number.isFinite(out[i]!)).toBe(true);
          expect(out[i]!).toBeGreaterThanOrEqual(0);
          total += out[i]!;
        }
        expect(Math.abs(total - 1)).toBeLessThan(1e-9);
        expect(out[input.k]).toBe(-7); // positions ≥ k are left alone
      }),
      { numRuns: RUNS },
    );
  });

  it('with the floor, gives every arm at least min(minShare, 1/k)', () => {
    fc.assert(
      fc.property(arbInput, minShareArb, fc.integer(), (input, minShare, seed) => {
        const out = new Float64Array(input.k);
        propensitiesWithFloor(policy, input, minShare, out);
        const floor = Math.min(minShare, 1 / input.k);
        let total = 0;
        for (let i = 0; i < input.k; i++) {
          expect(out[i]!).toBeGreaterThanOrEqual(floor - 1e-12);
          total += out[i]!;
        }
        expect(Math.abs(total - 1)).toBeLessThan(1e-9);
        const pos = chooseWithFloor(policy, input, createRng(seed), minShare);
        expect(pos >= 0 && pos < input.k).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('makes the same decisions from the same seed', () => {
    fc.assert(
      fc.property(arbInput, fc.integer(), minShareArb, (input, seed, minShare) => {
        const run = (): number[] => {
          const rng = createRng(seed);
          return Array.from({ length: 20 }, () => chooseWithFloor(policy, input, rng, minShare));
        };
        expect(run()).toEqual(run());
      }),
      { numRuns: RUNS },
    );
  });
});
