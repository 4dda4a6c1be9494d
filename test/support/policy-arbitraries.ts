import fc from 'fast-check';
import type { ArmStats, Policy, PolicyInput } from '../../src/policy/types.js';
import { policyInputFrom } from '../../src/policy/input.js';
import { createRng, type Rng } from '../../src/util/rng.js';

/** Statistics a real arm can have: consistent n/sum/sumSq, fractional or huge n, any sign. */
export const realisticStats: fc.Arbitrary<ArmStats> = fc
  .record({
    n: fc.oneof(
      fc.constant(0),
      fc.double({ min: 0, max: 5, noNaN: true }),
      fc.double({ min: 0, max: 1e6, noNaN: true }),
      fc.constantFrom(1e9, 1e12),
    ),
    mean: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
    variance: fc.double({ min: 0, max: 1e4, noNaN: true }),
    /** Rounding/discounting noise on sumSq, which can make it inconsistent (S < 0). */
    jitter: fc.double({ min: -1e-6, max: 1e-6, noNaN: true }),
  })
  .map(({ n, mean, variance, jitter }) => ({
    n,
    sum: n * mean,
    sumSq: n * (variance + mean * mean) * (1 + jitter),
  }));

/** Anything finite, including statistics no real arm has (sum > n, sumSq < 0). */
export const wildStats: fc.Arbitrary<ArmStats> = fc.record({
  n: fc.double({ min: 0, max: 1e15, noNaN: true, noDefaultInfinity: true }),
  sum: fc.double({ min: -1e15, max: 1e15, noNaN: true, noDefaultInfinity: true }),
  sumSq: fc.double({ min: -1e15, max: 1e30, noNaN: true, noDefaultInfinity: true }),
});

export const anyStats = fc.oneof(realisticStats, wildStats);

/** An input of 1..12 eligible arms (configured indices shuffled among 16). */
export const arbInput: fc.Arbitrary<PolicyInput> = fc
  .tuple(
    fc.array(anyStats, { minLength: 1, maxLength: 12 }),
    fc.double({ min: 0, max: 1e12, noNaN: true }),
    fc.boolean(),
  )
  .chain(([stats, total, useSum]) =>
    fc
      .uniqueArray(fc.integer({ min: 0, max: 15 }), { minLength: stats.length, maxLength: stats.length })
      .map((armIndex) => policyInputFrom(stats, useSum ? { armIndex } : { armIndex, total })),
  );

/** A stationary Bernoulli bandit driven by `policy`; returns pulls per arm over the last `tail` steps. */
export function runBernoulli(
  policy: Policy,
  probs: readonly number[],
  steps: number,
  tail: number,
  seed: number,
): { tailPulls: number[]; totalPulls: number[] } {
  const stats = probs.map(() => ({ n: 0, sum: 0, sumSq: 0 }));
  const rng: Rng = createRng(seed);
  const env = createRng(seed ^ 0x5bd1e995);
  const tailPulls = probs.map(() => 0);
  const totalPulls = probs.map(() => 0);
  const input = policyInputFrom(stats);
  for (let t = 0; t < steps; t++) {
    input.reset(t);
    stats.forEach((s, i) => input.push(i, s));
    const pos = policy.choose(input, rng);
    const arm = input.armIndex[pos]!;
    const r = env.next() < probs[arm]! ? 1 : 0;
    const s = stats[arm]!;
    s.n += 1;
    s.sum += r;
    s.sumSq += r * r;
    totalPulls[arm]!++;
    if (t >= steps - tail) tailPulls[arm]!++;
  }
  return { tailPulls, totalPulls };
}

/** Empirical share of each position over `draws` decisions on a fixed input. */
export function empiricalShares(choose: (rng: Rng) => number, k: number, draws: number, seed: number): number[] {
  const rng = createRng(seed);
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < draws; i++) counts[choose(rng)]!++;
  return counts.map((c) => c / draws);
}

/** Binomial standard deviation of an empirical share. */
export const binomialSd = (p: number, draws: number): number => Math.sqrt((p * (1 - p)) / draws);
