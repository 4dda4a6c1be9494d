import { identityOf, parseDecisionId } from '../reward/decision-id.js';

/**
 * The key a reward is deduplicated on: a decision id's identity (issuing
 * replica, sequence), so one decision is logged once however its id was
 * written. null for an id that looks like a decision id but is not in its
 * canonical form (refused as invalid). Ids that are not decision ids at all
 * (no payload.signature shape) are keyed by their text.
 */
export function dedupeKey(id: string): string | null {
  const p = parseDecisionId(id);
  if (p.ok) return `d:${identityOf(p.value.fields)}`;
  if (p.error.reason === 'non_canonical') return null;
  return `t:${id}`;
}

/**
 * The decision ids the aggregator has logged recently, bounded in memory.
 * A replica resends only batches it has not seen acked, and only while they
 * sit in its bounded buffer, so a duplicate arrives soon after the original.
 * The index keeps ids for `horizonMs` after their receipt and at most
 * `maxIds` of them (oldest evicted first); a duplicate arriving later than
 * both bounds would be logged twice. Memory is about maxIds x (id length +
 * ~100 bytes): ~200 MB at the default million ids of ~90 characters.
 * At start the index is rebuilt from the log, under the same bounds.
 */
export const DEDUPE_DEFAULTS = {
  horizonMs: 60 * 60_000,
  maxIds: 1_000_000,
} as const;

export class DedupeIndex {
  /** id → receipt time (epoch ms), in receipt order. */
  private readonly ids = new Map<string, number>();
  evicted = 0;

  constructor(
    private readonly horizonMs: number = DEDUPE_DEFAULTS.horizonMs,
    private readonly maxIds: number = DEDUPE_DEFAULTS.maxIds,
  ) {}

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Forgets `id` (its write failed: a resend must be logged, not called a duplicate). */
  delete(id: string): void {
    this.ids.delete(id);
  }

  /** Adds `id` received at `at`; evicts what falls outside the bounds (relative to `now`). */
  add(id: string, at: number, now: number = at): void {
    this.ids.set(id, at);
    this.evict(now);
  }

  evict(now: number): void {
    for (const [id, at] of this.ids) {
      if (this.ids.size <= this.maxIds && now - at <= this.horizonMs) break;
      this.ids.delete(id);
      this.evicted++;
    }
  }
}
