/**
 * Thompson propensities are Monte Carlo estimates (MC_DRAWS decisions from an
 * RNG seeded by the input). Each share is a binomial proportion with standard
 * error sqrt(p(1-p)/M) ≤ 0.0112 at M = 2000; we check the estimate against exact
 * answers within 4 standard errors.
 */
import { describe, expect, it } from 'vitest';
import { ThompsonBetaPolicy, betaPosterior } from '../../src/policy/thompson-beta.js';
import { ThompsonGaussianPolicy, normalGammaPosterior } from '../../src/policy/thompson-gaussian.js';
import { MC_DRAWS } from '../../src/policy/monte-carlo.js';
import { policyInputFrom } from '../../src/policy/input.js';
import { createRng } from '../../src/util/rng.js';
import { binomialSd, empiricalShares } from '../support/policy-arbitraries.js';

/** ln Γ(m) for a positive integer m, i.e. ln (m-1)!. */
function lnGammaInt(m: number): number {
  let s = 0;
  for (let i = 2; i < m; i++) s += Math.log(i);
  return s;
}
const lnBeta = (a: number, b: number): number => lnGammaInt(a) + lnGammaInt(b) - lnGammaInt(a + b);

/**
 * P(Y > X) for X ~ Beta(aX, bX), Y ~ Beta(aY, bY), integer parameters (the
 * closed form popularised by Evan Miller, from the Beta integral):
 *   Σ_{i=0}^{aY-1} B(aX+i, bX+bY) / ((bY+i) · B(1+i, bY) · B(aX, bX)).
 */
function probYBeatsX(aX: number, bX: number, aY: number, bY: number): number {
  let p = 0;
  for (let i = 0; i < aY; i++) {
    p += Math.exp(lnBeta(aX + i, bX + bY) - Math.log(bY + i) - lnBeta(1 + i, bY) - lnBeta(aX, bX));
  }
  return p;
}

describe('Beta-Bernoulli Thompson', () => {
  it('closed form sanity: identical Beta(1,1) arms tie at 1/2', () => {
    expect(probYBeatsX(1, 1, 1, 1)).toBeCloseTo(0.5, 12);
    expect(probYBeatsX(3, 5, 3, 5)).toBeCloseTo(0.5, 12);
  });

  it.each([
    // [n0, sum0, n1, sum1]
    [20, 12, 30, 14],
    [5, 1, 8, 4],
    [100, 70, 100, 62],
    [0, 0, 3, 2],
  ])('propensity estimate matches the exact P(arm 1 wins) (n0=%d s0=%d n1=%d s1=%d)', (n0, s0, n1, s1) => {
    const prior = { alpha: 1, beta: 1 };
    const policy = new ThompsonBetaPolicy(prior);
    const input = policyInputFrom([
      { n: n0, sum: s0, sumSq: s0 },
      { n: n1, sum: s1, sumSq: s1 },
    ]);
    const a = betaPosterior(prior, n0, s0);
    const b = betaPosterior(prior, n1, s1);
    const exact = probYBeatsX(a.alpha, a.beta, b.alpha, b.beta);
    const out = new Float64Array(2);
    policy.propensities(input, out);
    expect(Math.abs(out[1]! - exact)).toBeLessThanOrEqual(4 * binomialSd(exact, MC_DRAWS) + 1e-12);
    expect(out[0]! + out[1]!).toBe(1);
  });

  it('propensities are reproducible and leave the decision RNG untouched', () => {
    const policy = new ThompsonBetaPolicy();
    const input = policyInputFrom([
      { n: 10, sum: 6, sumSq: 6 },
      { n: 12, sum: 5, sumSq: 5 },
      { n: 3, sum: 2, sumSq: 2 },
    ]);
    const a = new Float64Array(3);
    const b = new Float64Array(3);
    const rng = createRng(9);
    const twin = createRng(9);
    policy.propensities(input, a);
    policy.propensities(input, b);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(rng.next()).toBe(twin.next());
  });

  it('choose samples the distribution the propensities estimate (3 arms, 20,000 draws)', () => {
    const policy = new ThompsonBetaPolicy();
    const input = policyInputFrom([
      { n: 10, sum: 6, sumSq: 6 },
      { n: 12, sum: 5, sumSq: 5 },
      { n: 3, sum: 2, sumSq: 2 },
    ]);
    const p = new Float64Array(3);
    policy.propensities(input, p);
    const draws = 20_000;
    const shares = empiricalShares((rng) => policy.choose(input, rng), 3, draws, 77);
    for (let i = 0; i < 3; i++) {
      // Both are estimates: combined sd of the difference.
      const sd = Math.sqrt(binomialSd(p[i]!, draws) ** 2 + binomialSd(p[i]!, MC_DRAWS) ** 2);
      expect(Math.abs(shares[i]! - p[i]!)).toBeLessThanOrEqual(4 * sd + 1e-9);
    }
  });

  it('describe reports alpha, beta and the posterior mean; fractional rewards split', () => {
    const d = new ThompsonBetaPolicy({ alpha: 2, beta: 3 }).describe({ n: 4, sum: 2.5, sumSq: 2 });
    expect(d).toEqual({ n: 4, alpha: 4.5, beta: 4.5, mean: 0.5 });
  });
});

/** Location-scale Student t density, unnormalised: the marginal of the mean under Normal-Gamma. */
function tDensity(x: number, mu: number, scale: number, dof: number): number {
  const z = (x - mu) / scale;
  return Math.pow(1 + (z * z) / dof, -(dof + 1) / 2);
}

/** P(X1 > X0) for two Student t marginals, by trapezoid integration of f1(x)·F0(x) on a fine grid. */
function probOneBeatsZero(t0: [number, number, number], t1: [number, number, number]): number {
  const lo = Math.min(t0[0] - 80 * t0[1], t1[0] - 80 * t1[1]);
  const hi = Math.max(t0[0] + 80 * t0[1], t1[0] + 80 * t1[1]);
  const N = 400_000;
  const h = (hi - lo) / N;
  let z0 = 0;
  let z1 = 0;
  for (let i = 0; i <= N; i++) {
    const w = i === 0 || i === N ? 0.5 : 1;
    z0 += w * tDensity(lo + i * h, ...t0);
    z1 += w * tDensity(lo + i * h, ...t1);
  }
  let cdf0 = 0;
  let prev0 = tDensity(lo, ...t0) / z0;
  let acc = 0;
  for (let i = 1; i <= N; i++) {
    const x = lo + i * h;
    const f0 = tDensity(x, ...t0) / z0;
    cdf0 += 0.5 * (prev0 + f0);
    prev0 = f0;
    acc += (tDensity(x, ...t1) / z1) * cdf0;
  }
  return acc;
}

describe('Normal-Gamma Thompson', () => {
  it('posterior: conjugate update, and S clamped at 0 when rounding makes it negative', () => {
    const prior = { mu: 0, kappa: 1, alpha: 1, beta: 1 };
    // Observations 1, 2, 3: n=3, sum=6, sumSq=14, S = 14 - 12 = 2, mean 2.
    const p = normalGammaPosterior(prior, 3, 6, 14);
    expect(p.kappaN).toBe(4);
    expect(p.muN).toBeCloseTo(1.5, 12);
    expect(p.alphaN).toBe(2.5);
    expect(p.betaN).toBeCloseTo(1 + 1 + (1 * 3 * 4) / (2 * 4), 12); // β + S/2 + κn(x̄-μ)²/(2κn)
    const q = normalGammaPosterior(prior, 3, 6, 12 - 1e-9); // S slightly negative
    expect(q.betaN).toBeCloseTo(1 + 0 + 1.5, 12);
    expect(normalGammaPosterior(prior, 0, 0, 0)).toEqual({ muN: 0, kappaN: 1, alphaN: 1, betaN: 1 });
  });

  it('propensity estimate matches numerical integration of the Student t marginals', () => {
    const prior = { mu: 0, kappa: 1, alpha: 2, beta: 2 };
    const stats = [
      { n: 20, sum: 20 * 1.0, sumSq: 20 * (1.0 + 0.8) },
      { n: 12, sum: 12 * 1.2, sumSq: 12 * (1.44 + 1.5) },
    ];
    const marg = stats.map((s) => {
      const p = normalGammaPosterior(prior, s.n, s.sum, s.sumSq);
      return [p.muN, Math.sqrt(p.betaN / (p.alphaN * p.kappaN)), 2 * p.alphaN] as [number, number, number];
    });
    const exact = probOneBeatsZero(marg[0]!, marg[1]!);
    expect(exact).toBeGreaterThan(0.6); // a non-trivial case
    expect(exact).toBeLessThan(0.9);
    const out = new Float64Array(2);
    new ThompsonGaussianPolicy(prior).propensities(policyInputFrom(stats), out);
    expect(Math.abs(out[1]! - exact)).toBeLessThanOrEqual(4 * binomialSd(exact, MC_DRAWS));
  });

  it('handles inconsistent statistics (sumSq < sum²/n) without NaN', () => {
    const policy = new ThompsonGaussianPolicy({ mu: 0, kappa: 1, alpha: 1, beta: 1 });
    const input = policyInputFrom([
      { n: 1e12, sum: 5e11, sumSq: 2.4e11 },
      { n: 0.3, sum: 0.2, sumSq: 0 },
    ]);
    const out = new Float64Array(2);
    policy.propensities(input, out);
    expect(out[0]! + out[1]!).toBe(1);
    expect(Number.isFinite(out[0]!)).toBe(true);
  });
});
