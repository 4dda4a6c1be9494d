import { DEFAULT_GAUSSIAN_PRIOR } from '../config/defaults.js';
import type { Rng } from '../util/rng.js';
import type { ArmStats, Policy, PolicyInput } from './types.js';
import { fastGamma, fastNormal, SampleStream } from './sampling.js';
import { MC_DRAWS, monteCarloPropensities } from './monte-carlo.js';

/** Normal-Gamma prior: mean mu with pseudo-count kappa; precision ~ Gamma(shape alpha, rate beta). */
export interface NormalGammaPrior {
  mu: number;
  kappa: number;
  alpha: number;
  beta: number;
}

/** Smallest precision used when sampling, so 1/sqrt(kappa tau) stays finite. */
const MIN_PRECISION = 1e-300;

export interface NormalGammaPosterior {
  muN: number;
  kappaN: number;
  alphaN: number;
  betaN: number;
}

/**
 * Conjugate update from sufficient statistics (n, sum, sumSq):
 *   kappa_n = kappa + n,  mu_n = (kappa mu + sum) / kappa_n,  alpha_n = alpha + n/2,
 *   beta_n  = beta + S/2 + kappa (sum - n mu)^2 / (2 n kappa_n),
 * with S = sumSq - sum^2/n the within-arm sum of squared deviations. S is clamped
 * at 0: rounding and discounting can leave it slightly negative. n < 0 counts as 0.
 */
export function normalGammaPosterior(prior: NormalGammaPrior, n: number, sum: number, sumSq: number): NormalGammaPosterior {
  const out = { muN: 0, kappaN: 0, alphaN: 0, betaN: 0 };
  posteriorInto(prior.mu, prior.kappa, prior.alpha, prior.beta, n, sum, sumSq, out);
  return out;
}

function posteriorInto(
  mu: number,
  kappa: number,
  alpha: number,
  beta: number,
  n: number,
  sum: number,
  sumSq: number,
  out: NormalGammaPosterior,
): void {
  if (!(n > 0)) {
    out.muN = mu;
    out.kappaN = kappa;
    out.alphaN = alpha;
    out.betaN = beta;
    return;
  }
  const kappaN = kappa + n;
  const ss = sumSq - (sum * sum) / n;
  const dev = sum - n * mu;
  out.kappaN = kappaN;
  out.muN = (kappa * mu + sum) / kappaN;
  out.alphaN = alpha + 0.5 * n;
  out.betaN = beta + 0.5 * (ss > 0 ? ss : 0) + (kappa * dev * dev) / (2 * n * kappaN);
}

/**
 * Gaussian Thompson sampling with unknown mean and variance: per arm, draw a
 * precision tau ~ Gamma(alpha_n, rate beta_n), then a mean ~ Normal(mu_n,
 * 1/(kappa_n tau)), and pick the largest mean (first position on an exact tie).
 */
export class ThompsonGaussianPolicy implements Policy {
  readonly type = 'thompson';
  private readonly stream = new SampleStream();
  readonly model = 'gaussian';
  private readonly prior: NormalGammaPrior;
  private readonly post: NormalGammaPosterior = { muN: 0, kappaN: 0, alphaN: 0, betaN: 0 };

  constructor(
    prior: NormalGammaPrior = DEFAULT_GAUSSIAN_PRIOR,
    private readonly draws: number = MC_DRAWS,
  ) {
    this.prior = { ...prior };
  }

  choose(input: PolicyInput, rng: Rng): number {
    const { k, n, sum, sumSq } = input;
    const { mu, kappa, alpha, beta } = this.prior;
    const post = this.post;
    const st = this.stream.seedFrom(rng);
    let best = 0;
    let bestDraw = -Infinity;
    for (let i = 0; i < k; i++) {
      posteriorInto(mu, kappa, alpha, beta, n[i]!, sum[i]!, sumSq[i]!, post);
      let tau = fastGamma(st, post.alphaN) / post.betaN;
      if (!(tau > MIN_PRECISION)) tau = MIN_PRECISION;
      const x = post.muN + fastNormal(st) / Math.sqrt(post.kappaN * tau);
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
    const p = normalGammaPosterior(this.prior, stats.n, stats.sum, stats.sumSq);
    return { n: stats.n, mu_n: p.muN, kappa_n: p.kappaN, alpha_n: p.alphaN, beta_n: p.betaN, mean: p.muN };
  }
}
