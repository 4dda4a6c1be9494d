/**
 * A fixed-size session → arm table in typed arrays: 16-way set-associative,
 * keyed by the 53-bit session hash, each slot 18 bytes (hash, arm, last use),
 * 2–4 slots per session. Memory is allocated once for `max_sessions` and never grows, whatever the
 * clients send. A full set evicts its least recently used entry (an
 * approximation of a global LRU); an entry idle for longer than the TTL is
 * gone.
 */
export const STICKY_WAYS = 16;
/** Slots per requested session (at least): at half load a 16-way set rarely fills before the table does (< 0.1% of sessions evicted early). */
export const STICKY_HEADROOM = 2;

export interface StickyEntry {
  hash: number;
  arm: number;
  seen: number;
}

export class StickyTable {
  private readonly keys: Float64Array;
  private readonly arms: Uint16Array;
  private readonly seen: Float64Array;
  private readonly mask: number;

  constructor(
    readonly maxSessions: number,
    private readonly ttlMs: number,
  ) {
    let sets = 1;
    while (sets * STICKY_WAYS < maxSessions * STICKY_HEADROOM) sets *= 2;
    this.mask = sets - 1;
    const slots = sets * STICKY_WAYS;
    this.keys = new Float64Array(slots);
    this.arms = new Uint16Array(slots);
    this.seen = new Float64Array(slots);
  }

  get capacity(): number {
    return this.keys.length;
  }

  private base(hash: number): number {
    return (hash & this.mask) * STICKY_WAYS;
  }

  /** The session's arm (refreshing its last use), or -1 when unknown or idle past the TTL. */
  get(hash: number, now: number): number {
    const b = this.base(hash);
    for (let i = b; i < b + STICKY_WAYS; i++) {
      if (this.keys[i] !== hash) continue;
      if (now - this.seen[i]! > this.ttlMs) {
        this.keys[i] = 0;
        return -1;
      }
      this.seen[i] = now;
      return this.arms[i]!;
    }
    return -1;
  }

  set(hash: number, arm: number, now: number): void {
    const b = this.base(hash);
    let victim = b;
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = b; i < b + STICKY_WAYS; i++) {
      const k = this.keys[i]!;
      if (k === hash) {
        victim = i;
        break;
      }
      // An empty or expired slot is the best victim; else the least recently used.
      const age = k === 0 || now - this.seen[i]! > this.ttlMs ? Number.NEGATIVE_INFINITY : this.seen[i]!;
      if (age < oldest) {
        oldest = age;
        victim = i;
      }
    }
    this.keys[victim] = hash;
    this.arms[victim] = arm;
    this.seen[victim] = now;
  }

  delete(hash: number): void {
    const b = this.base(hash);
    for (let i = b; i < b + STICKY_WAYS; i++) if (this.keys[i] === hash) this.keys[i] = 0;
  }

  /** Sessions held and not idle past the TTL (a full scan: for admin and tests, not the hot path). */
  size(now: number): number {
    let n = 0;
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] !== 0 && now - this.seen[i]! <= this.ttlMs) n++;
    return n;
  }

  /** Live entries, for carrying the table over a reload. */
  *entries(now: number): Generator<StickyEntry> {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] !== 0 && now - this.seen[i]! <= this.ttlMs) yield { hash: this.keys[i]!, arm: this.arms[i]!, seen: this.seen[i]! };
    }
  }

  clear(): void {
    this.keys.fill(0);
  }
}
