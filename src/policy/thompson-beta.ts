import { DEFAULT_BETA_PRIOR } from '../config/defaults.js';
import type { Rng } from '../util/rng.js';
import type { ArmStats, Policy, PolicyInput } from './types.js';
import { fastBeta, SampleStream } from './sampling.js';
import { MC_DRAWS, monteCarloPropensities } from './monte-carlo.js';

export interface BetaPrior {
  alpha: number;
  beta: number;
}


/**
 * Posterior of a Beta-Bernoulli arm from its sufficient statistics. Fractional
 * rewards r in [0,1] count as alpha += r, beta += 1 - r, so alpha = a0 + sum and
 * beta = b0 + n - sum. Statistics outside that model (n < 0, sum outside [0, n],
 * from rounding or bad input) are clamped into it.
 */
export function betaPosterior(prior: BetaPrior, n: number, sum: number): { alpha: number; beta: number } {
  const nn = n > 0 ? n : 0;
  const s = sum > 0 ? (sum < nn ? sum : nn) : 0;
  return { alpha: prior.alpha + s, beta: prior.beta + (nn - s) };
}

/**
 * Beta-Bernoulli Thompson sampling: draw a success rate from each arm's
 * posterior and pick the largest (first position on an exact tie, which has
 * probability ~0). Propensities are a Monte Carlo estimate (see monte-carlo.ts).
 */
export class ThompsonBetaPolicy implements Policy {
  readonly type = 'thompson';
  private readonly stream = new SampleStream();
  readonly model = 'beta';
  private readonly a0: number;
  private readonly b0: number;

  constructor(
    prior: BetaPrior = DEFAULT_BETA_PRIOR,
    private readonly draws: number = MC_DRAWS,
  ) {
    this.a0 = prior.alpha;
    this.b0 = prior.beta;
  }

  choose(input: PolicyInput, rng: Rng): number {
    const { k, n, sum } = input;
    const st = this.stream.seedFrom(rng);
    let best = 0;
    let bestDraw = -Infinity;
    for (let i = 0; i < k; i++) {
      const ni = n[i]! > 0 ? n[i]! : 0;
      const si = sum[i]!;
      const s = si > 0 ? (si < ni ? si : ni) : 0;
      const x = fastBeta(st, this.a0 + s, this.b0 + (ni - s));
      if (x > bestDraw) {
        bestDraw = x;
        best = i;
      }
    }
    return best;
  }

  propensities(input: PolicyInput, out: Float64Array): void {
    monteCarloPropensities(this, input, out, this.draws);
  }

  describe(stats: ArmStats): Record<string, number> {
    const { alpha, beta } = betaPosterior({ alpha: this.a0, beta: this.b0 }, stats.n, stats.sum);
    return { n: stats.n, alpha, beta, mean: alpha / (alpha + beta) };
  }
}
