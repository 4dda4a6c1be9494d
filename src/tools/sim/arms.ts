/**
 * Simulated arms: their behaviour at a moment of simulated time (the piecewise
 * schedule), one response drawn from it, and its expected reward (what the
 * oracle knows).
 *
 * - Bernoulli arm: 2xx with probability p, else 500, after a fixed latency;
 *   the route rewards success only, so the reward is 1 or 0 and its
 *   expectation is p.
 * - Continuous arm: 2xx with probability p; latency log-normal with median m
 *   and log-space sd sigma; the route rewards the latency SLO component only
 *   (1 at or below the SLO, falling linearly to 0 at twice it, 0 on failure),
 *   so the reward is in [0, 1] and its expectation is p · E[score(L)], in
 *   closed form below.
 */
import type { ArmKind, ArmSpec } from './scenario.js';

export interface ArmParams {
  p: number;
  latencyMs: number;
  sigma: number;
}

/** The arm's parameters at `tS` seconds: the latest step at or before it, ramped over `over` seconds. */
export function paramsAt(arm: ArmSpec, tS: number, out: ArmParams): ArmParams {
  let p = arm.p;
  let lat = arm.latency_ms;
  let sig = arm.latency_sigma;
  for (const s of arm.schedule) {
    if (s.at > tS) break;
    const f = s.over > 0 ? Math.min(1, (tS - s.at) / s.over) : 1;
    if (s.p !== undefined) p = ramp(p, s.p, f);
    if (s.latency_ms !== undefined) lat = ramp(lat, s.latency_ms, f);
    if (s.latency_sigma !== undefined) sig = ramp(sig, s.latency_sigma, f);
  }
  out.p = p;
  out.latencyMs = lat;
  out.sigma = sig;
  return out;
}

/** from → to by fraction f; exactly `to` once the ramp is over. */
const ramp = (from: number, to: number, f: number) => (f >= 1 ? to : from + (to - from) * f);

/** The SLO reward of one latency (matches src/reward/compute.ts). */
export function latencyScore(latencyMs: number, sloMs: number): number {
  return latencyMs <= sloMs ? 1 : Math.max(0, 2 - latencyMs / sloMs);
}

/** Expected reward of one request to an arm with these parameters. */
export function expectedReward(kind: ArmKind, a: ArmParams, sloMs: number): number {
  if (kind === 'bernoulli') return a.p;
  return a.p * expectedLatencyScore(a.latencyMs, a.sigma, sloMs);
}

/**
 * E[score(L)] for L = m·exp(sigma·Z):
 *   P(L ≤ s) + 2·(P(L ≤ 2s) − P(L ≤ s)) − E[L·1{s < L ≤ 2s}] / s,
 * with E[L·1{a < L ≤ b}] = m·e^{σ²/2}·(Φ((ln b − ln m − σ²)/σ) − Φ((ln a − ln m − σ²)/σ)).
 */
export function expectedLatencyScore(medianMs: number, sigma: number, sloMs: number): number {
  if (!(sigma > 0)) return latencyScore(medianMs, sloMs);
  const lm = Math.log(medianMs);
  const z = (x: number) => (Math.log(x) - lm) / sigma;
  const pS = normCdf(z(sloMs));
  const p2S = normCdf(z(2 * sloMs));
  const partial = medianMs * Math.exp((sigma * sigma) / 2) * (normCdf(z(2 * sloMs) - sigma) - normCdf(z(sloMs) - sigma));
  return Math.min(1, Math.max(0, pS + 2 * (p2S - pS) - partial / sloMs));
}

/** Standard normal CDF via erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
export function normCdf(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-ax * ax);
  return sign * y;
}

/**
 * One response, from environment draws that do not depend on the arm chosen
 * (`u` uniform, `z` standard normal): every policy faces the same sequence of
 * luck for the same seed (common random numbers), which narrows the spread
 * of their differences.
 */
export function drawResponse(kind: ArmKind, a: ArmParams, u: number, z: number): { status: number; latencyMs: number } {
  const status = u < a.p ? 200 : 500;
  const latencyMs = kind === 'continuous' && a.sigma > 0 ? a.latencyMs * Math.exp(a.sigma * z) : a.latencyMs;
  return { status, latencyMs };
}
