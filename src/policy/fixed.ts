import type { Rng } from '../util/rng.js';
import { meanOf, type ArmStats, type Policy, type PolicyInput } from './types.js';
import { fillUniform, fillZero } from './select.js';
import { uniformPosition } from './sampling.js';

/**
 * Always the named arm: the "naive" (always the newest model) and
 * "validation-based" (best arm offline) baselines. When that arm is not
 * eligible (quarantined, removed) or was not in the arm list, uniform over the
 * eligible arms.
 */
export class FixedPolicy implements Policy {
  readonly type = 'fixed';
  /** Configured index of the arm, or -1 if the name is not in the arm list. */
  readonly armIndex: number;

  constructor(
    readonly arm: string,
    armNames: readonly string[],
  ) {
    this.armIndex = armNames.indexOf(arm);
  }

  choose(input: PolicyInput, rng: Rng): number {
    const pos = this.position(input);
    return pos >= 0 ? pos : uniformPosition(rng, input.k);
  }

  propensities(input: PolicyInput, out: Float64Array): void {
    const pos = this.position(input);
    if (pos < 0) {
      fillUniform(input.k, out);
      return;
    }
    fillZero(input.k, out);
    out[pos] = 1;
  }

  describe(stats: ArmStats): Record<string, number> {
    return { n: stats.n, mean: meanOf(stats) };
  }

  private position(input: PolicyInput): number {
    if (this.armIndex < 0) return -1;
    for (let i = 0; i < input.k; i++) if (input.armIndex[i] === this.armIndex) return i;
    return -1;
  }
}
