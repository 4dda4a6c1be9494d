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

/**
 * What every form stores: per arm the count, sum and sum of squares in typed
 * arrays. The forms differ only in how they weigh an observation and when
 * they scale or rebuild the sums.
 */
abstract class ArmSums {
  protected readonly n: Float64Array;
  protected readonly sum: Float64Array;
  protected readonly sumSq: Float64Array;
  observations = 0;

  constructor(readonly armCount: number) {
    this.n = new Float64Array(armCount);
    this.sum = new Float64Array(armCount);
    this.sumSq = new Float64Array(armCount);
  }

  /** Adds one reward to `arm` with weight `w` (-1 takes an observation out). */
  protected put(arm: number, reward: number, w: number): void {
    this.n[arm]! += w;
    this.sum[arm]! += reward * w;
    this.sumSq[arm]! += reward * reward * w;
  }

  /** Multiplies every arm's sums by `f`. */
  protected scaleAll(f: number): void {
    for (let i = 0; i < this.armCount; i++) {
      this.n[i]! *= f;
      this.sum[i]! *= f;
      this.sumSq[i]! *= f;
    }
  }

  /** Sets every arm's sums from `stats` (an arm without stats: zeros). */
  protected setAll(stats: readonly ArmStats[]): void {
    for (let i = 0; i < this.armCount; i++) {
      const s = stats[i];
      this.n[i] = s?.n ?? 0;
      this.sum[i] = s?.sum ?? 0;
      this.sumSq[i] = s?.sumSq ?? 0;
    }
  }

  protected clear(): void {
    this.n.fill(0);
    this.sum.fill(0);
    this.sumSq.fill(0);
  }
}

class DiscountAccumulator extends ArmSums implements RouteAccumulator {
  /** Actual value = stored value * scale. */
  private scale = 1;

  constructor(
    armCount: number,
    private readonly gamma: number,
  ) {
    super(armCount);
  }

  add(arm: number, reward: number): void {
    if (this.gamma < 1) {
      this.scale *= this.gamma;
      if (this.scale < RESCALE_BELOW) this.rescale();
    }
    this.put(arm, reward, 1 / this.scale);
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
    this.setAll(stats);
  }

  private rescale(): void {
    this.scaleAll(this.scale);
    this.scale = 1;
  }
}

class WindowAccumulator extends ArmSums implements RouteAccumulator {
  private readonly ringArm: Int32Array;
  private readonly ringReward: Float64Array;
  private head = 0;
  private filled = 0;
  private readonly carried: ArmStats[];
  private carriedWeight = 0;
  private sinceRecompute = 0;

  constructor(
    armCount: number,
    private readonly size: number,
  ) {
    super(armCount);
    this.ringArm = new Int32Array(size);
    this.ringReward = new Float64Array(size);
    this.carried = Array.from({ length: armCount }, () => ({ n: 0, sum: 0, sumSq: 0 }));
  }

  add(arm: number, reward: number): void {
    if (this.filled === this.size) {
      // The oldest observation leaves the window.
      this.put(this.ringArm[this.head]!, this.ringReward[this.head]!, -1);
    } else {
      this.filled++;
    }
    this.ringArm[this.head] = arm;
    this.ringReward[this.head] = reward;
    this.head = (this.head + 1) % this.size;
    this.put(arm, reward, 1);
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
    this.clear();
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
    this.clear();
    for (let j = 0; j < this.filled; j++) {
      const idx = (this.head - 1 - j + this.size * 2) % this.size;
      this.put(this.ringArm[idx]!, this.ringReward[idx]!, 1);
    }
  }
}

class HalfLifeAccumulator extends ArmSums implements RouteAccumulator {
  /** Epoch ms the stored stats are as of. */
  private at = 0;

  constructor(
    armCount: number,
    private readonly halfLifeMs: number,
    private readonly clock: Clock,
  ) {
    super(armCount);
  }

  add(arm: number, reward: number, now = this.clock.now()): void {
    if (now > this.at) {
      this.scaleAll(decayFactor(now - this.at, this.halfLifeMs));
      this.at = now;
    }
    this.put(arm, reward, 1);
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
    this.setAll(stats);
  }
}
