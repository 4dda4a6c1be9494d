/**
 * Decisions waiting for their outcome from Envoy's access log, by decision id.
 * Bounded in count and age so memory stays flat whatever Envoy does: a
 * decision whose outcome never arrives (log lost, another replica got it) is
 * dropped after `ttlMs`, and the oldest is dropped when `max` are waiting.
 * A Map keeps insertion order, which is decision order, so expiry looks only
 * at the front.
 */
export class PendingDecisions<D extends { startedAt: number }> {
  private readonly byId = new Map<string, D>();
  /** Dropped without an outcome (too old, or pushed out by the cap). */
  dropped = 0;

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly onDrop: (d: D, why: 'expired' | 'overflow') => void = () => {},
  ) {}

  get size(): number {
    return this.byId.size;
  }

  add(id: string, d: D, now: number): void {
    this.expire(now);
    if (this.byId.size >= this.max) {
      const first = this.byId.entries().next().value;
      if (first) {
        this.byId.delete(first[0]);
        this.dropped++;
        this.onDrop(first[1], 'overflow');
      }
    }
    this.byId.set(id, d);
  }

  /** The decision for `id`, removed (an outcome is applied once); undefined when unknown. */
  take(id: string): D | undefined {
    const d = this.byId.get(id);
    if (d !== undefined) this.byId.delete(id);
    return d;
  }

  /** Drops decisions older than the TTL (monotonic `now`, like `startedAt`). */
  expire(now: number): void {
    for (const [id, d] of this.byId) {
      if (now - d.startedAt < this.ttlMs) return;
      this.byId.delete(id);
      this.dropped++;
      this.onDrop(d, 'expired');
    }
  }

  clear(): void {
    this.byId.clear();
  }
}
