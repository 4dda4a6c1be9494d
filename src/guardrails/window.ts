import { Tally } from './tally.js';

/** Buckets are 1 s wide, or narrower for short windows so a window always spans MIN_BUCKETS. */
export const DEFAULT_BUCKET_MS = 1000;
export const MIN_BUCKETS = 4;

export function bucketMsFor(windowMs: number): number {
  return Math.max(1, Math.min(DEFAULT_BUCKET_MS, Math.floor(windowMs / MIN_BUCKETS)));
}

/**
 * A sliding window over time as a ring of fixed-width time buckets, each a
 * Tally (counts + a fixed latency histogram), plus a running total of the
 * buckets in the ring. Recording is O(1); sliding subtracts the buckets that
 * leave, so it costs O(buckets expired × bins) however many requests they
 * held, and reading the window is O(1) for the error rate and one histogram
 * scan for p95. The window covers the current (partial) bucket and the
 * `buckets - 1` before it: between window_ms - bucket_ms and window_ms.
 *
 * Buckets that leave the window are handed to `onExpire` (in time order) —
 * the EWMA baseline learns from them, so the baseline describes the arm's
 * history *before* the current window and a regression inside the window
 * cannot drag its own baseline up.
 */
export class SlidingWindow {
  readonly bucketMs: number;
  readonly buckets: number;
  private readonly ring: Tally[];
  /** Absolute bucket number (floor(t / bucketMs)) of the newest bucket; -Infinity before the first. */
  private head = Number.NEGATIVE_INFINITY;
  readonly total = new Tally();

  constructor(
    readonly windowMs: number,
    private readonly onExpire: ((bucket: Tally) => void) | null = null,
  ) {
    this.bucketMs = bucketMsFor(windowMs);
    this.buckets = Math.max(1, Math.ceil(windowMs / this.bucketMs));
    this.ring = Array.from({ length: this.buckets }, () => new Tally());
  }

  /** Moves the window to `now`; a clock that steps back keeps the current bucket. */
  advance(now: number): void {
    const b = Math.floor(now / this.bucketMs);
    if (b <= this.head) return;
    if (this.head === Number.NEGATIVE_INFINITY) {
      this.head = b;
      return;
    }
    // Live buckets are head-n+1 .. head; those at or before b-n leave the window, oldest first.
    const last = Math.min(this.head, b - this.buckets);
    for (let k = this.head - this.buckets + 1; k <= last; k++) this.expire(this.ring[mod(k, this.buckets)]!);
    this.head = b;
  }

  private expire(t: Tally): void {
    if (t.count === 0) return;
    this.total.subtractAll(t);
    this.onExpire?.(t);
    t.clear();
  }

  record(now: number, isError: boolean, latencyMs: number): void {
    this.advance(now);
    this.ring[mod(this.head, this.buckets)]!.add(isError, latencyMs);
    this.total.add(isError, latencyMs);
  }

  /**
   * The newest buckets, at least `minBuckets` of them (the current partial one
   * counts), extended back until they hold `minSamples` or the window is used
   * up; summed into `out`.
   */
  recent(minSamples: number, minBuckets: number, out: Tally): Tally {
    out.clear();
    if (this.head === Number.NEGATIVE_INFINITY) return out;
    for (let i = 0; i < this.buckets; i++) {
      if (i >= minBuckets && out.count >= minSamples) break;
      out.addAll(this.ring[mod(this.head - i, this.buckets)]!);
    }
    return out;
  }

  /** Forgets the window without handing its buckets to the baseline. */
  clear(): void {
    for (const t of this.ring) t.clear();
    this.total.clear();
  }
}

function mod(k: number, n: number): number {
  return ((k % n) + n) % n;
}
