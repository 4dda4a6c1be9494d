import type { DriftConfig } from '../config/types.js';
import type { ArmStats } from '../policy/types.js';
import { systemClock, type Clock } from '../util/clock.js';

/**
 * One replica's statistics for one route: per arm count, sum and sum of
 * squares, with the route's drift form applied as rewards arrive.
 *
 * - none: plain sums.
 * - discount(gamma): every observation on the route multiplies all arms' stats
 *   by gamma first (Garivier & Moulines' discounted bandit), so evidence has an
 *   effective memory of 1/(1-gamma) of this replica's observations. Done lazily
 *   with a shared scale factor: O(1) per reward, not O(arms).
 * - window(size): only the last `size` observations on the route count (a
 *   ring buffer; the evicted observation is subtracted).
 *
 * - half_life(ms): evidence fades by elapsed time: weight 2^(-age/half_life),
 *   the same for every replica's slot whatever its traffic (time decay). The
 *   stats are kept as of the last write and faded when read, so a slot copy
 *   is immutable between its owner's writes (the merge stays a CRDT).
 *
 * Stats restored from a snapshot or peer (where the ring is not available)
 * enter a window accumulator as a `carried` baseline that fades by (1-1/size)
 * per new observation, so old evidence still leaves within about a window.
 */
export interface RouteAccumulator {
  readonly armCount: number;
  /** Adds one observation; `now` (epoch ms) matters to the half_life form only. */
  add(arm: number, reward: number, now?: number): void;
  read(arm: number, out: ArmStats): ArmStats;
  /** The stats as of time `t` (only the half_life form fades; the others ignore `t`). */
  readAt(arm: number, out: ArmStats, t: number): ArmStats;
  /** Replaces everything with the given stats (restore, adopt, reset), as of time `at`. */
  load(stats: readonly ArmStats[], at?: number): void;
  /** Observations ever added since creation or the last load (for versioning/metrics). */
  readonly observations: number;
}

const RESCALE_BELOW = 1e-150;
const RECOMPUTE_EVERY = 4096;

/** Weight left after `ageMs` with half-life `halfLifeMs` (1 for no decay or a non-positive age). */
export function decayFactor(ageMs: number, halfLifeMs: number): number {
  return halfLifeMs > 0 && ageMs > 0 ? Math.pow(2, -ageMs / halfLifeMs) : 1;
}

/** The route's time half-life in ms; 0 when its drift form does not fade with time. */
export function halfLifeOf(drift: DriftConfig): number {
  return drift.mode === 'half_life' ? drift.half_life_ms : 0;
}

export function createAccumulator(armCount: number, drift: DriftConfig, clock: Clock = systemClock): RouteAccumulator {
  switch (drift.mode) {
    case 'half_life':
      return new HalfLifeAccumulator(armCount, drift.half_life_ms, clock);
    case 'none':
      return new DiscountAccumulator(armCount, 1);
    case 'discount':
      return new DiscountAccumulator(armCount, drift.gamma);
    case 'window':
      return new WindowAccumulator(armCount, drift.size);
  }
}

class DiscountAccumulator implements RouteAccumulator {
  private readonly n: Float64Array;
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  /** Actual value = stored value * scale. */
  private scale = 1;
  observations = 0;

  constructor(
    readonly armCount: number,
    private readonly gamma: number,
  ) {
    this.n = new Float64Array(armCount);
    this.sum = new Float64Array(armCount);
    this.sumSq = new Float64Array(armCount);
  }

  add(arm: number, reward: number): void {
    if (this.gamma < 1) {
      this.scale *= this.gamma;
      if (this.scale < RESCALE_BELOW) this.rescale();
    }
    const w = 1 / this.scale;
    this.n[arm]! += w;
    this.sum[arm]! += reward * w;
    this.sumSq[arm]! += reward * reward * w;
    this.observations++;
  }

  readAt(arm: number, out: ArmStats): ArmStats {
    return this.read(arm, out);
  }

  read(arm: number, out: ArmStats): ArmStats {
    out.n = this.n[arm]! * this.scale;
    out.sum = this.sum[arm]! * this.scale;
    out.sumSq = this.sumSq[arm]! * this.scale;
    return out;
  }

  load(stats: readonly ArmStats[]): void {
    this.scale = 1;
    this.observations = 0;
    for (let i = 0; i < this.armCount; i++) {
      const s = stats[i];
      this.n[i] = s?.n ?? 0;
      this.sum[i] = s?.sum ?? 0;
      this.sumSq[i] = s?.sumSq ?? 0;
    }
  }

  private rescale(): void {
    for (let i = 0; i < this.armCount; i++) {
      this.n[i]! *= this.scale;
      this.sum[i]! *= this.scale;
      this.sumSq[i]! *= this.scale;
    }
    this.scale = 1;
  }
}

class WindowAccumulator implements RouteAccumulator {
  private readonly ringArm: Int32Array;
  private readonly ringReward: Float64Array;
  private head = 0;
  private filled = 0;
  private readonly n: Float64Array;
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  private readonly carried: ArmStats[];
  private carriedWeight = 0;
  private sinceRecompute = 0;
  observations = 0;

  constructor(
    readonly armCount: number,
    private readonly size: number,
  ) {
    this.ringArm = new Int32Array(size);
    this.ringReward = new Float64Array(size);
    this.n = new Float64Array(armCount);
    this.sum = new Float64Array(armCount);
    this.sumSq = new Float64Array(armCount);
    this.carried = Array.from({ length: armCount }, () => ({ n: 0, sum: 0, sumSq: 0 }));
  }

  add(arm: number, reward: number): void {
    if (this.filled === this.size) {
      const oldArm = this.ringArm[this.head]!;
      const oldReward = this.ringReward[this.head]!;
      this.n[oldArm]! -= 1;
      this.sum[oldArm]! -= oldReward;
      this.sumSq[oldArm]! -= oldReward * oldReward;
    } else {
      this.filled++;
    }
    this.ringArm[this.head] = arm;
    this.ringReward[this.head] = reward;
    this.head = (this.head + 1) % this.size;
    this.n[arm]! += 1;
    this.sum[arm]! += reward;
    this.sumSq[arm]! += reward * reward;
    if (this.carriedWeight > 0) this.carriedWeight *= 1 - 1 / this.size;
    this.observations++;
    // Subtraction accumulates rounding error; rebuild the sums exactly now and then.
    if (++this.sinceRecompute >= RECOMPUTE_EVERY) this.recompute();
  }

  readAt(arm: number, out: ArmStats): ArmStats {
    return this.read(arm, out);
  }

  read(arm: number, out: ArmStats): ArmStats {
    const c = this.carried[arm]!;
    const w = this.carriedWeight;
    out.n = Math.max(0, this.n[arm]!) + c.n * w;
    out.sum = this.sum[arm]! + c.sum * w;
    out.sumSq = Math.max(0, this.sumSq[arm]!) + c.sumSq * w;
    return out;
  }

  load(stats: readonly ArmStats[]): void {
    this.head = 0;
    this.filled = 0;
    this.n.fill(0);
    this.sum.fill(0);
    this.sumSq.fill(0);
    this.observations = 0;
    this.carriedWeight = 1;
    for (let i = 0; i < this.armCount; i++) {
      const s = stats[i];
      const c = this.carried[i]!;
      c.n = s?.n ?? 0;
      c.sum = s?.sum ?? 0;
      c.sumSq = s?.sumSq ?? 0;
    }
  }

  private recompute(): void {
    this.sinceRecompute = 0;
    this.n.fill(0);
    this.sum.fill(0);
    this.sumSq.fill(0);
    for (let j = 0; j < this.filled; j++) {
      const idx = (this.head - 1 - j + this.size * 2) % this.size;
      const a = this.ringArm[idx]!;
      const r = this.ringReward[idx]!;
      this.n[a]! += 1;
      this.sum[a]! += r;
      this.sumSq[a]! += r * r;
    }
  }
}

class HalfLifeAccumulator implements RouteAccumulator {
  private readonly n: Float64Array;
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  /** Epoch ms the stored stats are as of. */
  private at = 0;
  observations = 0;

  constructor(
    readonly armCount: number,
    private readonly halfLifeMs: number,
    private readonly clock: Clock,
  ) {
    this.n = new Float64Array(armCount);
    this.sum = new Float64Array(armCount);
    this.sumSq = new Float64Array(armCount);
  }

  add(arm: number, reward: number, now = this.clock.now()): void {
    if (now > this.at) {
      const f = decayFactor(now - this.at, this.halfLifeMs);
      for (let i = 0; i < this.armCount; i++) {
        this.n[i]! *= f;
        this.sum[i]! *= f;
        this.sumSq[i]! *= f;
      }
      this.at = now;
    }
    this.n[arm]! += 1;
    this.sum[arm]! += reward;
    this.sumSq[arm]! += reward * reward;
    this.observations++;
  }

  read(arm: number, out: ArmStats): ArmStats {
    return this.readAt(arm, out, this.clock.now());
  }

  readAt(arm: number, out: ArmStats, t: number): ArmStats {
    const f = decayFactor(t - this.at, this.halfLifeMs);
    out.n = this.n[arm]! * f;
    out.sum = this.sum[arm]! * f;
    out.sumSq = this.sumSq[arm]! * f;
    return out;
  }

  load(stats: readonly ArmStats[], at = this.clock.now()): void {
    this.at = at;
    this.observations = 0;
    for (let i = 0; i < this.armCount; i++) {
      const s = stats[i];
      this.n[i] = s?.n ?? 0;
      this.sum[i] = s?.sum ?? 0;
      this.sumSq[i] = s?.sumSq ?? 0;
    }
  }
}
