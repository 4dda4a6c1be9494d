import type { LogRecord } from './log.js';

/** Distinct route/arm pairs and replicas the summary tracks (the stream is not authenticated); the rest count under `_other`. */
export const MAX_SUMMARY_KEYS = 1_000;
const OTHER = '_other';

/** GET /v1/summary on the aggregator's admin server. */
export interface AggregatorSummary {
  rewards: number;
  duplicates: number;
  invalid: number;
  dedupe_ids: number;
  streams: number;
  /** route → arm → plain count and sum of every logged reward. */
  routes: Record<string, Record<string, { n: number; sum: number }>>;
  replicas: Record<string, number>;
  fleet_slots: string[];
}

/** The aggregator's running counts: every logged reward (replayed from the log at start, then as ingested), bounded in keys. */
export class SummaryCounts {
  rewards = 0;
  duplicates = 0;
  invalid = 0;
  /** Open reward streams. */
  streams = 0;
  private readonly routes: AggregatorSummary['routes'] = {};
  private readonly replicas: AggregatorSummary['replicas'] = {};
  private pairs = 0;

  /** One logged reward. */
  count(r: LogRecord): void {
    this.rewards++;
    let arms = this.routes[r.route];
    let arm = r.arm;
    if (!arms) {
      if (this.pairs >= MAX_SUMMARY_KEYS) arms = this.routes[OTHER] ??= {};
      else arms = this.routes[r.route] = {};
    }
    if (!arms[arm] && this.pairs >= MAX_SUMMARY_KEYS) arm = OTHER;
    let a = arms[arm];
    if (!a) {
      a = arms[arm] = { n: 0, sum: 0 };
      this.pairs++;
    }
    a.n++;
    a.sum += r.reward;
    const rep = this.replicas[r.replica] !== undefined || Object.keys(this.replicas).length < MAX_SUMMARY_KEYS ? r.replica : OTHER;
    this.replicas[rep] = (this.replicas[rep] ?? 0) + 1;
  }

  view(dedupeIds: number, fleetSlots: string[]): AggregatorSummary {
    const { rewards, duplicates, invalid, streams, routes, replicas } = this;
    return { rewards, duplicates, invalid, dedupe_ids: dedupeIds, streams, routes, replicas, fleet_slots: fleetSlots };
  }
}
