import { DEFAULT_UCB1_C } from '../config/defaults.js';
import type { Rng } from '../util/rng.js';
import { meanOf, type ArmStats, type Policy, type PolicyInput } from './types.js';
import { addArgmaxShare, argmaxRandomTie, fillZero, ScoreBuffer } from './select.js';

/** Below this (possibly discounted) count an arm counts as never tried. */
export const UNTRIED_N = 1e-9;

/**
 * UCB1: index = mean + c * sqrt(ln(max(total, 1)) / n); the largest index wins,
 * exact ties split uniformly at random. Arms with n < UNTRIED_N have index
 * +Infinity, so untried arms come first and are chosen uniformly among
 * themselves (random rather than lowest position, so replicas that share the
 * same view do not all probe the same arm, and every untried arm keeps a
 * positive propensity). Deterministic given the rng, so propensities are exact.
 */
export class Ucb1Policy implements Policy {
  readonly type = 'ucb1';
  private readonly scratch: ScoreBuffer;

  constructor(
    private readonly c: number = DEFAULT_UCB1_C,
    capacity = 8,
  ) {
    this.scratch = new ScoreBuffer(capacity);
  }

  choose(input: PolicyInput, rng: Rng): number {
    const scores = this.scores(input);
    return argmaxRandomTie(scores, input.k, rng);
  }

  propensities(input: PolicyInput, out: Float64Array): void {
    const scores = this.scores(input);
    fillZero(input.k, out);
    addArgmaxShare(scores, input.k, 1, out);
  }

  describe(stats: ArmStats): Record<string, number> {
    return { n: stats.n, mean: meanOf(stats) };
  }

  private scores(input: PolicyInput): Float64Array {
    const { k, n, sum } = input;
    const scores = this.scratch.get(k);
    const logT = Math.log(input.total > 1 ? input.total : 1);
    const c = this.c;
    for (let i = 0; i < k; i++) {
      const ni = n[i]!;
      scores[i] = ni >= UNTRIED_N ? sum[i]! / ni + c * Math.sqrt(logT / ni) : Infinity;
    }
    return scores;
  }
}
