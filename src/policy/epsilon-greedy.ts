import { DEFAULT_EPSILON } from '../config/defaults.js';
import type { Rng } from '../util/rng.js';
import { meanOf, type ArmStats, type Policy, type PolicyInput } from './types.js';
import { addArgmaxShare, argmaxRandomTie, fillUniform, ScoreBuffer } from './select.js';
import { UNTRIED_N } from './ucb1.js';

/** epsilon_t = epsilon / (1 + decay * t), clamped to [0, 1]; t < 0 counts as 0. */
export function epsilonAt(epsilon: number, decay: number, total: number): number {
  const t = total > 0 ? total : 0;
  const d = decay > 0 ? decay : 0;
  const e = epsilon / (1 + d * t);
  return e > 0 ? (e < 1 ? e : 1) : 0;
}

/**
 * Epsilon-greedy: with probability epsilon_t a uniform arm, otherwise the arm
 * with the best mean, exact ties split uniformly at random. Untried arms
 * (n < UNTRIED_N) are optimistic (mean +Infinity), so the greedy step tries
 * each arm once before trusting any mean; a "mean 0" rule would starve a new
 * arm whenever rewards are positive and epsilon is small.
 */
export class EpsilonGreedyPolicy implements Policy {
  readonly type = 'epsilon_greedy';
  private readonly scratch: ScoreBuffer;

  constructor(
    private readonly epsilon: number = DEFAULT_EPSILON,
    private readonly decay: number = 0,
    capacity = 8,
  ) {
    this.scratch = new ScoreBuffer(capacity);
  }

  choose(input: PolicyInput, rng: Rng): number {
    const k = input.k;
    const eps = epsilonAt(this.epsilon, this.decay, input.total);
    const u = rng.next();
    if (u < eps) {
      // u / eps is uniform on [0, 1): reuse it instead of drawing again.
      const i = Math.floor((u / eps) * k);
      return i < k ? i : k - 1;
    }
    return argmaxRandomTie(this.means(input), k, rng);
  }

  propensities(input: PolicyInput, out: Float64Array): void {
    const k = input.k;
    const eps = epsilonAt(this.epsilon, this.decay, input.total);
    fillUniform(k, out);
    for (let i = 0; i < k; i++) out[i] = out[i]! * eps;
    addArgmaxShare(this.means(input), k, 1 - eps, out);
  }

  describe(stats: ArmStats): Record<string, number> {
    return { n: stats.n, mean: meanOf(stats) };
  }

  private means(input: PolicyInput): Float64Array {
    const { k, n, sum } = input;
    const scores = this.scratch.get(k);
    for (let i = 0; i < k; i++) {
      const ni = n[i]!;
      scores[i] = ni >= UNTRIED_N ? sum[i]! / ni : Infinity;
    }
    return scores;
  }
}
