/**
 * An SLO's error budget over a rolling window, from request outcomes counted
 * in time buckets (a ring of `buckets` slots of window/buckets each).
 *
 * - budget remaining = 1 − (failures / requests over the window) / (1 − objective),
 *   clamped to [0, 1]: 1 with no failures, 0 once the window's error rate
 *   reaches the allowed rate.
 * - burn rate = the error rate over the last window/12 (5 min of a 1 h
 *   window) / (1 − objective): 1 spends the budget exactly over one window.
 * - counts: the fleet's (every replica's outcomes, gossiped in its slot) when the
 *   engine runs beside a ReplicaState; a local tally otherwise.
 * - exploration scale: 1 while at least `throttleBelow` of the budget
 *   remains, 0 at or below `stopBelow`, linear between. The engine multiplies
 *   exploration by it (docs/contextual.md, "Error-budget-aware exploration").
 */
import { SloTally } from './tally.js';

export interface SloParams {
  objective: number;
  windowMs: number;
  throttleBelow: number;
  stopBelow: number;
}

export const SLO_BUCKETS = 60;
/** The burn rate is read over this fraction of the window (1/12: 5 min of 1 h, as multi-window burn alerts do). */
export const SLO_BURN_FRACTION = 1 / 12;

/** Where a budget's outcome counts come from: a local tally, or the fleet's (this replica's slot plus every peer's). */
export interface SloCounts {
  record(success: boolean, now: number): void;
  /** Adds the requests and failures of the last `span` buckets (ending with the one holding `now`) into out. */
  countInto(now: number, span: number, out: { requests: number; failures: number }): void;
}

/** The bucket width of a window: window / SLO_BUCKETS. */
export const sloBucketMs = (windowMs: number) => windowMs / SLO_BUCKETS;

export class SloBudget {
  private readonly bucketMs: number;
  private readonly scratch = { requests: 0, failures: 0 };

  constructor(
    readonly params: SloParams,
    /** The counts the budget reads; a tally of this process's outcomes alone unless given. */
    private readonly source: SloCounts = new SloTally(sloBucketMs(params.windowMs), SLO_BUCKETS),
  ) {
    this.bucketMs = sloBucketMs(params.windowMs);
  }

  record(success: boolean, now: number): void {
    this.source.record(success, now);
  }

  /** Requests and failures in the last `spanMs` (whole buckets). */
  private counts(now: number, spanMs: number): { requests: number; failures: number } {
    const span = Math.max(1, Math.min(SLO_BUCKETS, Math.round(spanMs / this.bucketMs)));
    const out = this.scratch;
    out.requests = 0;
    out.failures = 0;
    this.source.countInto(now, span, out);
    return out;
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
