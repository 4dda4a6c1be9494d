/**
 * Request outcomes counted in time buckets of `bucketMs` (aligned to the
 * epoch, so every replica's bucket n covers the same span), `buckets` of
 * them in a ring: a rolling window of buckets × bucketMs.
 *
 * One replica's tally rides in its gossiped slot (state/replica-state.ts) as
 * `[bucket, requests, failures]` triples; the fleet's is the sum over slots,
 * so the SLO budget is computed over every replica's traffic, and merging
 * keeps the slot CRDT's laws (only the owner writes its tally).
 */
export type SloBucket = [bucket: number, requests: number, failures: number];

export interface SloSlot {
  bucket_ms: number;
  buckets: SloBucket[];
}

export class SloTally {
  private readonly total: Float64Array;
  private readonly failed: Float64Array;
  /** Bucket number each slot currently holds (-1: empty). */
  private readonly stamp: Float64Array;

  constructor(
    readonly bucketMs: number,
    readonly buckets: number,
  ) {
    this.total = new Float64Array(buckets);
    this.failed = new Float64Array(buckets);
    this.stamp = new Float64Array(buckets).fill(-1);
  }

  /** Adds `requests` outcomes, `failures` of them failed, to bucket `b`. */
  addTo(b: number, requests: number, failures: number): void {
    const i = b % this.buckets;
    if (this.stamp[i] !== b) {
      if (this.stamp[i]! > b) return; // older than the ring holds
      this.stamp[i] = b;
      this.total[i] = 0;
      this.failed[i] = 0;
    }
    this.total[i] = this.total[i]! + requests;
    this.failed[i] = this.failed[i]! + failures;
  }

  record(success: boolean, now: number): void {
    this.addTo(Math.floor(now / this.bucketMs), 1, success ? 0 : 1);
  }

  /** Adds the requests and failures of the `span` buckets ending with the one holding `now` into out. */
  countInto(now: number, span: number, out: { requests: number; failures: number }): void {
    const newest = Math.floor(now / this.bucketMs);
    for (let i = 0; i < this.buckets; i++) {
      const s = this.stamp[i]!;
      if (s >= 0 && s <= newest && s > newest - span) {
        out.requests += this.total[i]!;
        out.failures += this.failed[i]!;
      }
    }
  }

  clear(): void {
    this.stamp.fill(-1);
    this.total.fill(0);
    this.failed.fill(0);
  }

  /** The buckets still inside the window at `now`, oldest first (the slot form). */
  toSlot(now: number): SloSlot {
    const newest = Math.floor(now / this.bucketMs);
    const out: SloBucket[] = [];
    for (let i = 0; i < this.buckets; i++) {
      const s = this.stamp[i]!;
      if (s >= 0 && s <= newest && s > newest - this.buckets && this.total[i]! > 0) out.push([s, this.total[i]!, this.failed[i]!]);
    }
    out.sort((a, b) => a[0] - b[0]);
    return { bucket_ms: this.bucketMs, buckets: out };
  }

  /** Adds a slot's buckets (same bucket width; others are ignored). */
  addSlot(slot: SloSlot): void {
    if (slot.bucket_ms !== this.bucketMs) return;
    for (const [b, t, f] of slot.buckets) this.addTo(b, t, f);
  }
}

/** Most buckets one slot entry may carry (a window is SLO_BUCKETS of them). */
export const MAX_SLO_BUCKETS = 256;

export function parseSloSlot(raw: unknown, path: string): SloSlot | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `${path}: expected an object`;
  const r = raw as Record<string, unknown>;
  if (typeof r.bucket_ms !== 'number' || !Number.isFinite(r.bucket_ms) || r.bucket_ms <= 0) return `${path}.bucket_ms: expected a number > 0`;
  if (!Array.isArray(r.buckets) || r.buckets.length > MAX_SLO_BUCKETS) return `${path}.buckets: expected an array of at most ${MAX_SLO_BUCKETS} entries`;
  const buckets: SloBucket[] = [];
  for (const [i, e] of r.buckets.entries()) {
    if (!Array.isArray(e) || e.length !== 3 || !e.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0) || !Number.isInteger(e[0]) || e[2] > e[1]) {
      return `${path}.buckets[${i}]: expected [bucket, requests, failures] with 0 <= failures <= requests`;
    }
    buckets.push([e[0], e[1], e[2]] as SloBucket);
  }
  return { bucket_ms: r.bucket_ms, buckets };
}
