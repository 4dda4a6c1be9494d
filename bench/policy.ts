/**
 * Decisions per second of each policy with 2, 10 and 100 eligible arms, each
 * measured side by side (alternating batches, same run) against a weighted
 * random pick of the same arms: cumulative weights over the eligible arms built
 * into a preallocated buffer per decision, then one uniform draw and a binary
 * search — what a per-request weighted split costs when eligibility can change.
 *
 *   npm run build && node dist/bench/policy.js
 */
import type { ContextFreePolicyParams } from '../src/config/types.js';
import { createPolicy } from '../src/policy/registry.js';
import { PolicyInputBuffer } from '../src/policy/input.js';
import type { PolicyInput } from '../src/policy/types.js';
import { createRng, type Rng } from '../src/util/rng.js';
import { runIfMain } from './main.js';

export interface Row {
  policy: string;
  arms: number;
  /** Policy decisions per second (median over rounds). */
  policyOpsPerSec: number;
  /** Weighted-random decisions per second over the same arms, same run. */
  weightedRandomOpsPerSec: number;
  /** policyOpsPerSec / weightedRandomOpsPerSec. */
  ratio: number;
}

export interface BenchOptions {
  armCounts?: readonly number[];
  /** Alternating policy/baseline batch pairs; the median of each is reported. */
  rounds?: number;
  /** Target duration of one batch. */
  batchMs?: number;
}

const DEFAULTS = { armCounts: [2, 10, 100], rounds: 7, batchMs: 40 } as const;

function cases(armNames: readonly string[]): Array<[string, ContextFreePolicyParams]> {
  const weights: Record<string, number> = {};
  armNames.forEach((name, i) => (weights[name] = i + 1));
  return [
    ['thompson_beta', { type: 'thompson', model: 'beta', prior: { alpha: 1, beta: 1 } }],
    ['thompson_gaussian', { type: 'thompson', model: 'gaussian', prior: { mu: 0.5, kappa: 1, alpha: 1, beta: 1 } }],
    ['ucb1', { type: 'ucb1', c: Math.SQRT2 }],
    ['epsilon_greedy', { type: 'epsilon_greedy', epsilon: 0.1, decay: 0 }],
    ['static', { type: 'static', weights }],
    ['fixed', { type: 'fixed', arm: armNames[armNames.length - 1]! }],
  ];
}

/** Arms with a few thousand Bernoulli observations each and success rates in [0.3, 0.8]. */
function benchInput(k: number): PolicyInputBuffer {
  const buf = new PolicyInputBuffer(k);
  let total = 0;
  for (let i = 0; i < k; i++) total += 1000 + 37 * i;
  buf.reset(total);
  for (let i = 0; i < k; i++) {
    const n = 1000 + 37 * i;
    const p = 0.3 + (0.5 * i) / Math.max(1, k - 1);
    const sum = Math.round(n * p);
    buf.pushValues(i, n, sum, sum);
  }
  return buf;
}

/** The baseline: weighted random over the eligible arms of `input`. */
class WeightedRandom {
  private readonly cum: Float64Array;
  constructor(private readonly weights: Float64Array) {
    this.cum = new Float64Array(weights.length);
  }
  choose(input: PolicyInput, rng: Rng): number {
    const k = input.k;
    const cum = this.cum;
    let acc = 0;
    for (let i = 0; i < k; i++) {
      acc += this.weights[input.armIndex[i]!]!;
      cum[i] = acc;
    }
    const u = rng.next() * acc;
    let lo = 0;
    let hi = k - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

interface Chooser {
  choose(input: PolicyInput, rng: Rng): number;
}

/**
 * Live traffic: between two decisions a reward arrives for one arm, so one
 * arm's statistics change per decision (round robin). Wraps the policy and
 * the baseline alike, so the update costs the same on both sides.
 */
class OneArmUpdatedPerDecision implements Chooser {
  private next = 0;
  constructor(
    private readonly inner: Chooser,
    private readonly input: PolicyInputBuffer,
  ) {}
  choose(input: PolicyInput, rng: Rng): number {
    const i = this.next;
    this.next = i + 1 === this.input.k ? 0 : i + 1;
    this.input.n[i]! += 1;
    this.input.sum[i]! += 0.5;
    this.input.sumSq[i]! += 0.25;
    return this.inner.choose(input, rng);
  }
}

let sink = 0;

function timeBatch(c: Chooser, input: PolicyInput, rng: Rng, iterations: number): number {
  let acc = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) acc += c.choose(input, rng);
  const ns = Number(process.hrtime.bigint() - t0);
  sink += acc;
  return (iterations * 1e9) / Math.max(ns, 1);
}

/** Iterations that take about `ms` (after a warm-up). */
function calibrate(c: Chooser, input: PolicyInput, rng: Rng, ms: number): number {
  let n = 100;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += c.choose(input, rng);
    const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (elapsedMs >= ms / 4 || n > 1e8) return Math.max(100, Math.round((n * ms) / Math.max(elapsedMs, 1e-3)));
    n *= 4;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export async function runPolicyBench(opts: BenchOptions = {}): Promise<Row[]> {
  const armCounts = opts.armCounts ?? DEFAULTS.armCounts;
  const rounds = opts.rounds ?? DEFAULTS.rounds;
  const batchMs = opts.batchMs ?? DEFAULTS.batchMs;
  const rows: Row[] = [];
  for (const k of armCounts) {
    const armNames = Array.from({ length: k }, (_, i) => `arm-${i}`);
    const fixedInput = benchInput(k);
    const weighted = new WeightedRandom(Float64Array.from(armNames, (_, i) => i + 1));
    const live = cases(armNames).filter(([name]) => name === 'thompson_beta').map(([name, params]): [string, ContextFreePolicyParams, boolean] => [`${name} (live)`, params, true]);
    for (const [name, params, isLive] of [...cases(armNames).map(([n, p]): [string, ContextFreePolicyParams, boolean] => [n, p, false]), ...live]) {
      const input = isLive ? benchInput(k) : fixedInput;
      const policy: Chooser = isLive ? new OneArmUpdatedPerDecision(createPolicy(params, armNames), input) : createPolicy(params, armNames);
      const baseline: Chooser = isLive ? new OneArmUpdatedPerDecision(weighted, input) : weighted;
      const rng = createRng(12345);
      const nPolicy = calibrate(policy, input, rng, batchMs);
      const nBase = calibrate(baseline, input, rng, batchMs);
      const p: number[] = [];
      const b: number[] = [];
      for (let r = 0; r < rounds; r++) {
        p.push(timeBatch(policy, input, rng, nPolicy));
        b.push(timeBatch(baseline, input, rng, nBase));
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const policyOpsPerSec = median(p);
      const weightedRandomOpsPerSec = median(b);
      rows.push({ policy: name, arms: k, policyOpsPerSec, weightedRandomOpsPerSec, ratio: policyOpsPerSec / weightedRandomOpsPerSec });
    }
  }
  if (sink === -1) console.log(''); // keeps the results observable to the optimizer
  return rows;
}

export function formatRows(rows: readonly Row[]): string {
  const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(1)}k`);
  const header = ['policy', 'arms', 'policy ops/s', 'weighted-random ops/s', 'ratio'];
  const body = rows.map((r) => [r.policy, String(r.arms), fmt(r.policyOpsPerSec), fmt(r.weightedRandomOpsPerSec), `${r.ratio.toFixed(3)}x`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

runIfMain(import.meta.url, () => runPolicyBench(), formatRows);
