/**
 * A fixed-size session → arm table in typed arrays, keyed by the 53-bit
 * session hash, each slot 18 bytes (hash, arm, last use), 2–4 slots per
 * session. Memory is allocated once for `max_sessions` and never grows,
 * whatever the clients send. Each session may live in one of two 16-way sets
 * (chosen by independent bits of its hash; two-choice hashing): a new session
 * takes a free or expired slot in the emptier one, else evicts the least
 * recently used of the 32 (an approximation of a global LRU). An entry idle
 * for longer than the TTL is gone.
 */
export const STICKY_WAYS = 16;
/** Slots per requested session (at least): at ≤ half load two-choice sets practically never fill before the table does. */
export const STICKY_HEADROOM = 2;
const TWO_21 = 2 ** 21;

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

  /** First slot of the session's first set (low hash bits) … */
  private base1(hash: number): number {
    return (hash & this.mask) * STICKY_WAYS;
  }

  /** … and of its second set (high hash bits). */
  private base2(hash: number): number {
    return ((Math.floor(hash / TWO_21) >>> 0) & this.mask) * STICKY_WAYS;
  }

  private find(hash: number): number {
    let b = this.base1(hash);
    for (let i = b; i < b + STICKY_WAYS; i++) if (this.keys[i] === hash) return i;
    b = this.base2(hash);
    for (let i = b; i < b + STICKY_WAYS; i++) if (this.keys[i] === hash) return i;
    return -1;
  }

  /** The session's arm (refreshing its last use), or -1 when unknown or idle past the TTL. */
  get(hash: number, now: number): number {
    const i = this.find(hash);
    if (i < 0) return -1;
    if (now - this.seen[i]! > this.ttlMs) {
      this.keys[i] = 0;
      return -1;
    }
    this.seen[i] = now;
    return this.arms[i]!;
  }

  set(hash: number, arm: number, now: number): void {
    let slot = this.find(hash);
    if (slot < 0) slot = this.victim(this.base1(hash), this.base2(hash), now);
    this.keys[slot] = hash;
    this.arms[slot] = arm;
    this.seen[slot] = now;
  }

  /**
   * Where a new session goes: a free (or expired) slot in whichever of its two
   * sets has more of them (greedy two-choice keeps the sets balanced), else
   * the least recently used slot of both.
   */
  private victim(b1: number, b2: number, now: number): number {
    let free1 = -1;
    let free2 = -1;
    let n1 = 0;
    let n2 = 0;
    let lru = b1;
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = b1; i < b1 + STICKY_WAYS; i++) {
      if (this.keys[i] === 0 || now - this.seen[i]! > this.ttlMs) {
        n1++;
        if (free1 < 0) free1 = i;
      } else if (this.seen[i]! < oldest) {
        oldest = this.seen[i]!;
        lru = i;
      }
    }
    for (let i = b2; i < b2 + STICKY_WAYS; i++) {
      if (this.keys[i] === 0 || now - this.seen[i]! > this.ttlMs) {
        n2++;
        if (free2 < 0) free2 = i;
      } else if (this.seen[i]! < oldest) {
        oldest = this.seen[i]!;
        lru = i;
      }
    }
    if (n1 + n2 === 0) return lru;
    return n1 >= n2 ? free1 : free2;
  }

  delete(hash: number): void {
    const i = this.find(hash);
    if (i >= 0) this.keys[i] = 0;
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
