/**
 * Hybrid logical clock (Kulkarni et al.): a stamp is (physical ms, counter,
 * replica id). It never goes backwards on one replica, it moves past every
 * stamp the replica has seen (so an action taken after reading another
 * replica's record is ordered after it, whatever the wall clocks say), and it
 * stays within the clock skew of physical time. Stamps are totally ordered:
 * ms, then counter, then replica id (byte order) as the tie-break, so two
 * replicas acting in the same millisecond resolve the same way everywhere.
 */
import type { Clock } from '../util/clock.js';

export interface Stamp {
  /** Physical part: epoch ms. */
  ms: number;
  /** Logical part: orders events within one ms. */
  c: number;
  /** The replica that made the stamp (tie-break). */
  r: string;
}

/** Total order on stamps: negative when a is earlier. */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.ms !== b.ms) return a.ms - b.ms;
  if (a.c !== b.c) return a.c - b.c;
  return a.r < b.r ? -1 : a.r > b.r ? 1 : 0;
}

export function stampText(s: Stamp): string {
  return `${s.ms}.${s.c}@${s.r}`;
}

export class HybridClock {
  private ms = 0;
  private c = 0;

  constructor(
    readonly replica: string,
    private readonly clock: Clock,
  ) {}

  /** A new stamp, later than every stamp made or observed here. */
  now(): Stamp {
    const pt = Math.trunc(this.clock.now());
    if (pt > this.ms) {
      this.ms = pt;
      this.c = 0;
    } else {
      this.c++;
    }
    return { ms: this.ms, c: this.c, r: this.replica };
  }

  /**
   * Moves past a stamp received from another replica. Callers drop stamps
   * further in the future than the gossip skew limit before they get here,
   * so one bad peer cannot drag the clock ahead without bound.
   */
  observe(s: Stamp): void {
    if (s.ms > this.ms || (s.ms === this.ms && s.c > this.c)) {
      this.ms = s.ms;
      this.c = s.c;
    }
  }
}
