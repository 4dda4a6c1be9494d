import type { ArmStats, PolicyInput } from './types.js';

/**
 * A reusable PolicyInput: buffers sized once to the route's arm count, refilled
 * per decision with `reset` + `push`, so building a decision's input allocates
 * nothing. Pushing more arms than the capacity is a programming error (throws).
 */
export class PolicyInputBuffer implements PolicyInput {
  k = 0;
  total = 0;
  readonly n: Float64Array;
  readonly sum: Float64Array;
  readonly sumSq: Float64Array;
  readonly armIndex: Int32Array;

  constructor(readonly capacity: number) {
    const c = Math.max(1, capacity);
    this.n = new Float64Array(c);
    this.sum = new Float64Array(c);
    this.sumSq = new Float64Array(c);
    this.armIndex = new Int32Array(c);
  }

  /** Empties the buffer; `total` is the route's observation count (UCB's t, epsilon decay). */
  reset(total = 0): this {
    this.k = 0;
    this.total = total;
    return this;
  }

  /** Appends an eligible arm (its configured index and statistics) at position k. */
  push(armIndex: number, stats: ArmStats): this {
    return this.pushValues(armIndex, stats.n, stats.sum, stats.sumSq);
  }

  pushValues(armIndex: number, n: number, sum: number, sumSq: number): this {
    const i = this.k;
    if (i >= this.n.length) throw new RangeError(`PolicyInputBuffer: capacity ${this.n.length} exceeded`);
    this.armIndex[i] = armIndex;
    this.n[i] = n;
    this.sum[i] = sum;
    this.sumSq[i] = sumSq;
    this.k = i + 1;
    return this;
  }
}

export interface InputOptions {
  /** Configured index per position (default: the position itself). */
  armIndex?: readonly number[];
  /** Route total (default: the sum of n over the given arms). */
  total?: number;
}

/** Builds an input from an array of statistics (tests, simulator, admin views). */
export function policyInputFrom(stats: readonly ArmStats[], opts: InputOptions = {}): PolicyInputBuffer {
  const buf = new PolicyInputBuffer(stats.length);
  let total = 0;
  for (const s of stats) total += s.n > 0 ? s.n : 0;
  buf.reset(opts.total ?? total);
  stats.forEach((s, i) => buf.push(opts.armIndex?.[i] ?? i, s));
  return buf;
}
