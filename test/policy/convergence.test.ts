/**
 * Known answers on a stationary two-arm Bernoulli problem: arm 0 pays with
 * p = 0.7, arm 1 with p = 0.5 (gap Δ = 0.2). Each learning policy runs T steps
 * from empty statistics; we count the worse arm's pulls over the last fifth.
 * A uniform policy puts 0.5 of that traffic on the worse arm, so every bound
 * below is one a non-learning policy fails. Several seeds, each must pass.
 */
import { describe, expect, it } from 'vitest';
import type { ContextFreePolicyParams } from '../../src/config/types.js';
import { createPolicy } from '../../src/policy/registry.js';
import { runBernoulli } from '../support/policy-arbitraries.js';

const PROBS = [0.7, 0.5];
const DELTA = 0.2;
const T = 10_000;
const TAIL = T / 5;
const SEEDS = [1, 2, 3, 4, 5];
const ARMS = ['good', 'worse'];

function worseShares(params: ContextFreePolicyParams): Array<{ tail: number; total: number }> {
  return SEEDS.map((seed) => {
    const { tailPulls, totalPulls } = runBernoulli(createPolicy(params, ARMS), PROBS, T, TAIL, seed);
    return { tail: tailPulls[1]! / TAIL, total: totalPulls[1]! };
  });
}

describe('learning policies find the better arm (p = 0.7 vs 0.5)', () => {
  it('ucb1 (c = √2): worse-arm pulls stay within the Auer bound and fade', () => {
    // Auer, Cesa-Bianchi & Fischer (2002): E[N_worse(T)] ≤ 8 ln T / Δ² + 1 + π²/3
    // = 8·ln(10⁴)/0.04 + 4.29 ≈ 1846 over all T steps. Heuristically N_worse(t) ≈ 2 ln t / Δ²,
    // so the last fifth adds about (2/Δ²)·ln(1/0.8) ≈ 11 pulls (share ≈ 0.006);
    // we allow 0.15 (300 pulls), ~27× slack, still far below uniform's 0.5.
    const auer = (8 * Math.log(T)) / DELTA ** 2 + 1 + Math.PI ** 2 / 3;
    for (const { tail, total } of worseShares({ type: 'ucb1', c: Math.SQRT2 })) {
      expect(total).toBeLessThan(auer);
      expect(tail).toBeLessThan(0.15);
    }
  });

  it('epsilon_greedy (fixed ε = 0.1): the worse arm gets ≈ ε/2 of late traffic', () => {
    // Once the greedy arm is right, the worse arm is only picked by exploration: ε/k = 0.05.
    // By t = 8000 it has ~400 pulls, so the means are ~8σ apart and greedy mistakes are
    // negligible. Binomial sd of a share over 2000 pulls at 0.05 is 0.0049; we accept
    // [0.05 − 5·sd, 0.05 + 6·sd] ≈ [0.025, 0.08] — exploration must still be happening.
    const sd = Math.sqrt((0.05 * 0.95) / TAIL);
    for (const { tail } of worseShares({ type: 'epsilon_greedy', epsilon: 0.1, decay: 0 })) {
      expect(tail).toBeGreaterThan(0.05 - 5 * sd);
      expect(tail).toBeLessThan(0.05 + 6 * sd);
    }
  });

  it('epsilon_greedy (decaying ε_t = 1/(1 + 0.01 t)): exploration fades', () => {
    // Over the last fifth ε_t ≈ 1/81 … 1/101, so the worse arm's expected share is
    // ≈ ε/2 ≈ 0.0055; by then it has ≈ 50·ln(81) ≈ 220 exploratory pulls (means ~6σ
    // apart). We allow 0.03 (5× the expectation).
    for (const { tail } of worseShares({ type: 'epsilon_greedy', epsilon: 1, decay: 0.01 })) {
      expect(tail).toBeLessThan(0.03);
    }
  });

  it('thompson beta: concentrates like UCB, at the Lai-Robbins rate', () => {
    // Thompson sampling attains the Lai-Robbins rate (Agrawal & Goyal 2012; Kaufmann et al. 2012):
    // E[N_worse(T)] ≈ ln T / KL(0.5 ‖ 0.7) = 9.21 / 0.0872 ≈ 106, and the last fifth adds
    // ≈ ln(1/0.8)/0.0872 ≈ 3 pulls. We allow a share of 0.05 (100 pulls) and 600 pulls in total.
    for (const { tail, total } of worseShares({ type: 'thompson', model: 'beta', prior: { alpha: 1, beta: 1 } })) {
      expect(tail).toBeLessThan(0.05);
      expect(total).toBeLessThan(600);
    }
  });

  it('thompson gaussian (Normal-Gamma): also concentrates on 0/1 rewards', () => {
    // The Gaussian model is misspecified for 0/1 rewards but its posterior on the mean
    // narrows as 1/√n all the same; we allow twice the Beta model's bounds.
    const params: ContextFreePolicyParams = { type: 'thompson', model: 'gaussian', prior: { mu: 0.5, kappa: 1, alpha: 1, beta: 1 } };
    for (const { tail, total } of worseShares(params)) {
      expect(tail).toBeLessThan(0.1);
      expect(total).toBeLessThan(1200);
    }
  });

  it('fixed on the better arm never explores; on the worse arm it never learns', () => {
    const good = worseShares({ type: 'fixed', arm: 'good' });
    const bad = worseShares({ type: 'fixed', arm: 'worse' });
    for (const s of good) expect(s.tail).toBe(0);
    for (const s of bad) expect(s.tail).toBe(1);
  });
});
