import type { Rng } from '../util/rng.js';

/**
 * Sufficient statistics of one arm's rewards: a (possibly discounted or
 * windowed) count, sum and sum of squares. Posteriors are computed from these;
 * they add across replicas, which is what makes the fleet view a plain sum.
 */
export interface ArmStats {
  n: number;
  sum: number;
  sumSq: number;
}

/**
 * What a policy sees for one decision: the k arms that may be chosen (active,
 * not quarantined), as parallel arrays so the engine can reuse buffers and the
 * hot path does not allocate. Positions 0..k-1 are valid; arrays may be longer.
 */
export interface PolicyInput {
  readonly k: number;
  readonly n: Float64Array;
  readonly sum: Float64Array;
  readonly sumSq: Float64Array;
  /** Position → index of the arm in the route's configured arm list. */
  readonly armIndex: Int32Array;
  /** Observations on the route across all arms (UCB's t, epsilon decay). */
  readonly total: number;
}

/**
 * A pure decision rule. No I/O, no clock: everything it needs is in the input
 * and the injected RNG. The exploration floor and quarantine sit outside.
 */
export interface Policy {
  readonly type: string;
  /** Returns a position in 0..input.k-1. */
  choose(input: PolicyInput, rng: Rng): number;
  /** Fills out[0..k-1] with the probability of choosing each position; sums to 1. */
  propensities(input: PolicyInput, out: Float64Array): void;
  /** Posterior parameters for display in /v1/routes (never on the hot path). */
  describe?(stats: ArmStats): Record<string, number>;
}

/** Mean reward of an arm, or `fallback` when it has no evidence yet. */
export function meanOf(stats: ArmStats, fallback = 0): number {
  return stats.n > 0 ? stats.sum / stats.n : fallback;
}
