import type { Rng } from '../util/rng.js';
import { meanOf, type ArmStats, type Policy, type PolicyInput } from './types.js';
import { fillUniform } from './select.js';
import { uniformPosition } from './sampling.js';

/**
 * Fixed traffic split (the A/B baseline). Weights are given by arm name and
 * resolved to configured arm indices once, at creation; names not in the arm
 * list are ignored and unnamed arms weigh 0 (config validation reports both).
 * Negative or non-finite weights count as 0. Each decision renormalizes over
 * the eligible arms; if they all weigh 0, it is uniform over them.
 */
export class StaticPolicy implements Policy {
  readonly type = 'static';
  /** Weight per configured arm index. */
  readonly weights: Float64Array;

  constructor(weights: Readonly<Record<string, number>>, armNames: readonly string[]) {
    this.weights = new Float64Array(armNames.length);
    armNames.forEach((name, i) => {
      const w = Object.prototype.hasOwnProperty.call(weights, name) ? weights[name]! : 0;
      this.weights[i] = Number.isFinite(w) && w > 0 ? w : 0;
    });
  }

  choose(input: PolicyInput, rng: Rng): number {
    const k = input.k;
    const total = this.eligibleWeight(input);
    if (!(total > 0)) return uniformPosition(rng, k);
    let u = rng.next() * total;
    let last = 0;
    for (let i = 0; i < k; i++) {
      const w = this.weightAt(input, i);
      if (w > 0) {
        if (u < w) return i;
        u -= w;
        last = i;
      }
    }
    return last; // rounding left u ≥ the remaining weight: the last weighted arm
  }

  propensities(input: PolicyInput, out: Float64Array): void {
    const k = input.k;
    const total = this.eligibleWeight(input);
    if (!(total > 0)) {
      fillUniform(k, out);
      return;
    }
    for (let i = 0; i < k; i++) out[i] = this.weightAt(input, i) / total;
  }

  describe(stats: ArmStats): Record<string, number> {
    return { n: stats.n, mean: meanOf(stats) };
  }

  private weightAt(input: PolicyInput, i: number): number {
    const w = this.weights[input.armIndex[i]!];
    return w !== undefined ? w : 0;
  }

  private eligibleWeight(input: PolicyInput): number {
    let total = 0;
    for (let i = 0; i < input.k; i++) total += this.weightAt(input, i);
    return total;
  }
}
