/**
 * An SLO's error budget over a rolling window, from request outcomes counted
 * in time buckets (a ring of `buckets` slots of window/buckets each).
 *
 * - budget remaining = 1 − (failures / requests over the window) / (1 − objective),
 *   clamped to [0, 1]: 1 with no failures, 0 once the window's error rate
 *   reaches the allowed rate.
 * - burn rate = the error rate over the last window/12 (5 min of a 1 h
 *   window) / (1 − objective): 1 spends the budget exactly over one window.
 * - exploration scale: 1 while at least `throttleBelow` of the budget
 *   remains, 0 at or below `stopBelow`, linear between. The engine multiplies
 *   exploration by it (docs/contextual.md, "Error-budget-aware exploration").
 */
export interface SloParams {
  objective: number;
  windowMs: number;
  throttleBelow: number;
  stopBelow: number;
}

export const SLO_BUCKETS = 60;
/** The burn rate is read over this fraction of the window (1/12: 5 min of 1 h, as multi-window burn alerts do). */
export const SLO_BURN_FRACTION = 1 / 12;

export class SloBudget {
  private readonly total: Float64Array;
  private readonly failed: Float64Array;
  /** Bucket number each slot currently holds (-1: empty). */
  private readonly stamp: Float64Array;
  private readonly bucketMs: number;

  constructor(
    readonly params: SloParams,
    private readonly buckets = SLO_BUCKETS,
  ) {
    this.total = new Float64Array(buckets);
    this.failed = new Float64Array(buckets);
    this.stamp = new Float64Array(buckets).fill(-1);
    this.bucketMs = params.windowMs / buckets;
  }

  record(success: boolean, now: number): void {
    const b = Math.floor(now / this.bucketMs);
    const i = b % this.buckets;
    if (this.stamp[i] !== b) {
      this.stamp[i] = b;
      this.total[i] = 0;
      this.failed[i] = 0;
    }
    this.total[i] = this.total[i]! + 1;
    if (!success) this.failed[i] = this.failed[i]! + 1;
  }

  /** Requests and failures in the last `spanMs` (whole buckets). */
  private counts(now: number, spanMs: number): { requests: number; failures: number } {
    const newest = Math.floor(now / this.bucketMs);
    const span = Math.max(1, Math.min(this.buckets, Math.round(spanMs / this.bucketMs)));
    let requests = 0;
    let failures = 0;
    for (let i = 0; i < this.buckets; i++) {
      const s = this.stamp[i]!;
      if (s >= 0 && s <= newest && s > newest - span) {
        requests += this.total[i]!;
        failures += this.failed[i]!;
      }
    }
    return { requests, failures };
  }

  remaining(now: number): number {
    const { requests, failures } = this.counts(now, this.params.windowMs);
    if (requests === 0) return 1;
    const used = failures / requests / (1 - this.params.objective);
    return used >= 1 ? 0 : 1 - used;
  }

  burnRate(now: number): number {
    const { requests, failures } = this.counts(now, this.params.windowMs * SLO_BURN_FRACTION);
    return requests === 0 ? 0 : failures / requests / (1 - this.params.objective);
  }

  /** The factor exploration is multiplied by, in [0, 1]. */
  explorationScale(now: number): number {
    const r = this.remaining(now);
    const { throttleBelow, stopBelow } = this.params;
    if (r >= throttleBelow) return 1;
    if (r <= stopBelow) return 0;
    return (r - stopBelow) / (throttleBelow - stopBelow);
  }
}
