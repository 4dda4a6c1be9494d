/**
 * A fixed log-linear latency histogram (HDR-style): each power of two above
 * MIN_MS is split into SUB_BUCKETS equal bins. Fixed bins mean two histograms
 * add and subtract bin by bin (a window slides by subtracting the bucket that
 * leaves it) and memory is constant whatever the traffic.
 *
 * Accuracy: a quantile is reported as the midpoint of the bin holding the
 * nearest-rank sample, so its relative error is at most 1 / (2 * SUB_BUCKETS)
 * = 3.125% for latencies ≥ MIN_MS (absolute error ≤ MIN_MS below it); values
 * above the top bin (MIN_MS * 2^OCTAVES ≈ 28 min) are clamped into it.
 */
export const MIN_MS = 0.1;
export const SUB_BUCKETS = 16;
export const OCTAVES = 24;
export const BINS = OCTAVES * SUB_BUCKETS + 1;
/** The bound on the relative error of a quantile read from the histogram. */
export const MAX_RELATIVE_ERROR = 1 / (2 * SUB_BUCKETS);

/** Bin index of a latency in ms. Bin 0 holds everything below MIN_MS. */
export function binOf(ms: number): number {
  if (!(ms >= MIN_MS)) return 0;
  const x = ms / MIN_MS;
  let e = Math.floor(Math.log2(x));
  // log2 can round across a power of two; correct so that 2^e ≤ x < 2^(e+1).
  if (2 ** e > x) e--;
  else if (2 ** (e + 1) <= x) e++;
  if (e >= OCTAVES) return BINS - 1;
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor((x / 2 ** e - 1) * SUB_BUCKETS));
  return 1 + e * SUB_BUCKETS + sub;
}

/** The value a bin reports: its midpoint (half of MIN_MS for bin 0). */
export function valueOf(bin: number): number {
  if (bin <= 0) return MIN_MS / 2;
  const i = bin - 1;
  const e = Math.floor(i / SUB_BUCKETS);
  const sub = i - e * SUB_BUCKETS;
  return MIN_MS * 2 ** e * (1 + (sub + 0.5) / SUB_BUCKETS);
}

export class LatencyHistogram {
  readonly bins = new Uint32Array(BINS);
  count = 0;

  add(ms: number): void {
    this.bins[binOf(ms)]!++;
    this.count++;
  }

  addAll(other: LatencyHistogram): void {
    if (other.count === 0) return;
    const b = this.bins;
    const o = other.bins;
    for (let i = 0; i < BINS; i++) b[i]! += o[i]!;
    this.count += other.count;
  }

  subtractAll(other: LatencyHistogram): void {
    if (other.count === 0) return;
    const b = this.bins;
    const o = other.bins;
    for (let i = 0; i < BINS; i++) b[i]! -= o[i]!;
    this.count -= other.count;
  }

  clear(): void {
    if (this.count === 0) return;
    this.bins.fill(0);
    this.count = 0;
  }

  /** Nearest-rank quantile q in (0, 1]; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    const b = this.bins;
    for (let i = 0; i < BINS; i++) {
      seen += b[i]!;
      if (seen >= rank) return valueOf(i);
    }
    return valueOf(BINS - 1);
  }
}
