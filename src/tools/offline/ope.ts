/**
 * Off-policy evaluation: what a candidate policy would have earned on logged
 * traffic, from the logging policy's propensities.
 *
 * For event i (context x, logged arm a with propensity p, reward r) and the
 * candidate's distribution π(·|x), w = π(a|x)/p:
 * - IPS:   mean(w·r)                                   unbiased, high variance
 * - SNIPS: Σ w·r / Σ w                                 slightly biased, lower variance
 * - DR:    mean(Σ_b π(b|x) q̂(x,b) + w·(r − q̂(x,a)))   unbiased if either p or q̂ is right
 * with 95 % normal intervals (SNIPS by the delta method), and the effective
 * sample size (Σw)²/Σw². q̂ is a ridge regression per arm on every logged
 * context header (one-hot, hashed), fit on the whole log.
 *
 * A learning candidate runs in shadow: before event i it has learned from
 * events 0..i-1 (the logged arms and rewards), and its propensities at i
 * are taken from that state. The estimate is of that policy, not of the
 * candidate as it would have learned from its own choices.
 */
import { ContextualChooser } from '../../contextual/chooser.js';
import { parseContextual } from '../../contextual/config.js';
import { defaultFeatures, type OfflinePolicy } from './candidate.js';
import type { LogRead } from './log-events.js';

export const Z_95 = 1.959963984540054;

export interface Estimate {
  value: number;
  low: number;
  high: number;
  stderr: number;
}

export interface OpeResult {
  events: number;
  logged: Estimate;
  ips: Estimate;
  snips: Estimate;
  dr: Estimate;
  ess: number;
  /** Largest importance weight seen (a large one means a few events dominate). */
  maxWeight: number;
  /** Events the candidate would never have chosen the logged arm for (w = 0). */
  zeroWeight: number;
}

function meanEstimate(xs: Float64Array): Estimate {
  const n = xs.length;
  let s = 0;
  for (const x of xs) s += x;
  const m = s / n;
  let v = 0;
  for (const x of xs) v += (x - m) * (x - m);
  const se = n > 1 ? Math.sqrt(v / (n - 1) / n) : Infinity;
  return { value: m, low: m - Z_95 * se, high: m + Z_95 * se, stderr: se };
}

/** The reward model q̂: one ridge regression per arm on the log's context headers. */
class RewardModel {
  private readonly c: ContextualChooser;
  constructor(log: LogRead) {
    const feats = defaultFeatures(log.contextKeys);
    const r = parseContextual({ features: feats.length ? feats : [{ name: 'none', header: 'x-none', type: 'categorical', buckets: 1 }], policy: { type: 'linucb' } });
    if (!r.ok) throw new RangeError('reward model features are always valid');
    this.c = new ContextualChooser(r.value, log.arms.length);
    const index = new Map(log.arms.map((a, i) => [a, i]));
    for (const e of log.events) this.c.setContextRecord(e.context).observe(index.get(e.arm)!, e.reward);
  }
  /** q̂(x, a) for every arm a into out. */
  predict(context: LogRead['events'][number]['context'], out: Float64Array): Float64Array {
    this.c.setContextRecord(context);
    for (let a = 0; a < out.length; a++) out[a] = this.c.arms[a]!.predict(this.c.ctx.x);
    return out;
  }
}

export function evaluateOffPolicy(log: LogRead, candidate: OfflinePolicy): OpeResult {
  const n = log.events.length;
  const k = log.arms.length;
  const index = new Map(log.arms.map((a, i) => [a, i]));
  const q = new RewardModel(log);
  const pi = new Float64Array(k);
  const qx = new Float64Array(k);
  const rs = new Float64Array(n);
  const ips = new Float64Array(n);
  const dr = new Float64Array(n);
  const ws = new Float64Array(n);
  let sw = 0;
  let sw2 = 0;
  let swr = 0;
  let maxWeight = 0;
  let zeroWeight = 0;
  log.events.forEach((e, i) => {
    const a = index.get(e.arm)!;
    candidate.propensities(e.context, pi);
    q.predict(e.context, qx);
    const w = pi[a]! / e.propensity;
    let direct = 0;
    for (let b = 0; b < k; b++) direct += pi[b]! * qx[b]!;
    rs[i] = e.reward;
    ws[i] = w;
    ips[i] = w * e.reward;
    dr[i] = direct + w * (e.reward - qx[a]!);
    sw += w;
    sw2 += w * w;
    swr += w * e.reward;
    if (w > maxWeight) maxWeight = w;
    if (w === 0) zeroWeight++;
    candidate.observe(e.context, a, e.reward);
  });
  const snipsValue = sw > 0 ? swr / sw : 0;
  const g = new Float64Array(n);
  for (let i = 0; i < n; i++) g[i] = ws[i]! * (rs[i]! - snipsValue);
  const gm = meanEstimate(g);
  const meanW = sw / n;
  const snipsSe = meanW > 0 ? gm.stderr / meanW : Infinity;
  return {
    events: n,
    logged: meanEstimate(rs),
    ips: meanEstimate(ips),
    snips: { value: snipsValue, low: snipsValue - Z_95 * snipsSe, high: snipsValue + Z_95 * snipsSe, stderr: snipsSe },
    dr: meanEstimate(dr),
    ess: sw2 > 0 ? (sw * sw) / sw2 : 0,
    maxWeight,
    zeroWeight,
  };
}
