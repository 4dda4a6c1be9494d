import { randomBytes } from 'node:crypto';
import type { Config, DriftConfig } from '../config/types.js';
import type { ArmStats } from '../policy/types.js';
import type { Clock } from '../util/clock.js';
import { createAccumulator, type RouteAccumulator } from './accumulator.js';
import { compareSlots, type ArmFlag, type SlotSnapshot, type Snapshot } from './snapshot.js';

export interface RouteShape {
  name: string;
  arms: readonly string[];
  drift: DriftConfig;
}

/** The route shapes of a config, in route order: what a ReplicaState is built and reconfigured with. */
export function routeShapes(config: Pick<Config, 'routes'>): RouteShape[] {
  return config.routes.map((r) => ({ name: r.name, arms: r.arms.map((a) => a.name), drift: r.policy.drift }));
}

interface LocalRoute {
  shape: RouteShape;
  acc: RouteAccumulator;
  /** Sum of every other replica's slot, per arm (refreshed on merge). */
  remote: ArmStats[];
  /** Plain sums recorded since start, re-applied if an older incarnation's slot is adopted. */
  delta: ArmStats[];
}

export interface MergeResult {
  /** Replicas whose slot this merge replaced or added. */
  updated: string[];
  /** True when our own slot was adopted from a peer (restart recovery). */
  adoptedOwn: boolean;
}

const zero = (): ArmStats => ({ n: 0, sum: 0, sumSq: 0 });

/**
 * This replica's live state: its own slot (accumulators it alone writes), the
 * latest known slot of every other replica, and the fleet view the policies
 * read (own + remote, per arm, O(1) to read on the hot path).
 */
export class ReplicaState {
  private routes: LocalRoute[] = [];
  private byName = new Map<string, number>();
  private remoteSlots = new Map<string, SlotSnapshot>();
  /** When each remote slot last advanced, by our clock (staleness). */
  private remoteHeardAt = new Map<string, number>();
  private flags = new Map<string, Map<string, ArmFlag>>();
  private version = 0;
  private updatedAt = 0;
  private flagsVer = 0;
  /** Open until the first sync completes: a newer copy of our own slot is adopted. */
  private adoptionOpen = true;
  /** Version of the earlier incarnation's slot we started from (file or peer); 0 when none. */
  private restoredVersion = 0;
  /** This process lifetime's id, stamped on our slot. */
  readonly incarnation = randomBytes(8).toString('hex');
  private readonly scratch = zero();

  constructor(
    readonly replicaId: string,
    routes: readonly RouteShape[],
    private readonly clock: Clock,
  ) {
    this.reconfigure(routes);
  }

  routeIndex(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** Records one reward for (route, arm) in our own slot. */
  record(route: number, arm: number, reward: number): void {
    const r = this.routes[route]!;
    r.acc.add(arm, reward);
    if (this.adoptionOpen) {
      const d = r.delta[arm]!;
      d.n += 1;
      d.sum += reward;
      d.sumSq += reward * reward;
    }
    this.touch();
  }

  /** Fleet statistics (own + every remote slot) into `out`, without allocating. */
  fleet(route: number, arm: number, out: ArmStats): ArmStats {
    const r = this.routes[route]!;
    r.acc.read(arm, out);
    const rem = r.remote[arm]!;
    out.n += rem.n;
    out.sum += rem.sum;
    out.sumSq += rem.sumSq;
    return out;
  }

  /** Our own slot's statistics only. */
  local(route: number, arm: number, out: ArmStats): ArmStats {
    return this.routes[route]!.acc.read(arm, out);
  }

  /** Total fleet observations on a route, across all its arms. */
  fleetTotal(route: number): number {
    const r = this.routes[route]!;
    let t = 0;
    for (let a = 0; a < r.shape.arms.length; a++) t += this.fleet(route, a, this.scratch).n;
    return t;
  }

  resetRoute(route: number): void {
    const r = this.routes[route]!;
    r.acc.load([]);
    r.delta = r.shape.arms.map(zero);
    this.touch();
  }

  setFlag(route: string, arm: string, flag: ArmFlag): void {
    let m = this.flags.get(route);
    if (!m) this.flags.set(route, (m = new Map()));
    m.set(arm, flag);
    this.flagsVer++;
    this.touch();
  }

  clearFlag(route: string, arm: string): boolean {
    const removed = this.flags.get(route)?.delete(arm) ?? false;
    if (removed) {
      this.flagsVer++;
      this.touch();
    }
    return removed;
  }

  /** Flags any replica (including us) publishes for this arm that are still in force. */
  activeFlags(route: string, arm: string, now: number): Array<ArmFlag & { replica: string }> {
    const out: Array<ArmFlag & { replica: string }> = [];
    const own = this.flags.get(route)?.get(arm);
    if (own && own.until > now) out.push({ ...own, replica: this.replicaId });
    for (const slot of this.remoteSlots.values()) {
      const f = slot.flags[route]?.[arm];
      if (f && f.until > now) out.push({ ...f, replica: slot.replica });
    }
    return out;
  }

  ownSlot(): SlotSnapshot {
    const routes: SlotSnapshot['routes'] = {};
    for (const r of this.routes) {
      const arms: Record<string, ArmStats> = {};
      r.shape.arms.forEach((name, i) => (arms[name] = r.acc.read(i, zero())));
      routes[r.shape.name] = arms;
    }
    const flags: SlotSnapshot['flags'] = {};
    for (const [route, m] of this.flags) {
      if (m.size) flags[route] = Object.fromEntries(m);
    }
    return { replica: this.replicaId, incarnation: this.incarnation, version: this.version, updated_at: this.updatedAt, routes, flags };
  }

  snapshot(): Snapshot {
    const slots: Record<string, SlotSnapshot> = { [this.replicaId]: this.ownSlot() };
    for (const [id, slot] of this.remoteSlots) slots[id] = slot;
    return { slots };
  }

  /**
   * Merges a peer's snapshot (already validated). Remote slots keep the newer
   * copy. A copy of our own slot from this incarnation is an echo and ignored.
   * One from an earlier incarnation that is newer than what we restored means
   * that incarnation got further than our snapshot file: while adoption is
   * open we take its statistics plus what we recorded since start. Either way
   * our version jumps past every foreign copy, so our writes win everywhere.
   */
  merge(incoming: Snapshot): MergeResult {
    const updated: string[] = [];
    let adoptedOwn = false;
    const now = this.clock.now();
    for (const [id, slot] of Object.entries(incoming.slots)) {
      if (id === this.replicaId) {
        if (slot.incarnation === this.incarnation) continue;
        if (this.adoptionOpen && slot.version > this.restoredVersion) {
          this.adopt(slot);
          adoptedOwn = true;
        }
        if (slot.version >= this.version) this.version = slot.version + 1;
        continue;
      }
      const mine = this.remoteSlots.get(id);
      if (!mine || compareSlots(slot, mine) > 0) {
        this.remoteSlots.set(id, slot);
        this.remoteHeardAt.set(id, now);
        updated.push(id);
      }
    }
    if (updated.length) this.refreshRemote();
    if (updated.length || adoptedOwn) this.flagsVer++;
    return { updated, adoptedOwn };
  }

  /** Loads our own slot from the snapshot file at start. */
  restoreOwn(slot: SlotSnapshot): void {
    this.adopt(slot);
  }

  /** Called once the first sync is done (or timed out): our writes are authoritative from now on. */
  closeAdoption(): void {
    this.adoptionOpen = false;
    for (const r of this.routes) r.delta = r.shape.arms.map(zero);
  }

  get adoptionIsOpen(): boolean {
    return this.adoptionOpen;
  }

  peers(): Array<{ replica: string; version: number; updatedAt: number; heardAt: number }> {
    return [...this.remoteSlots.values()].map((s) => ({
      replica: s.replica,
      version: s.version,
      updatedAt: s.updated_at,
      heardAt: this.remoteHeardAt.get(s.replica) ?? 0,
    }));
  }

  /** Changes whenever any replica's flags may have changed (cache key for eligibility). */
  get flagsVersion(): number {
    return this.flagsVer;
  }

  get ownVersion(): number {
    return this.version;
  }

  /**
   * Applies a new route set (reload). Statistics survive for (route, arm) names
   * that remain; new arms start empty; removed ones are dropped from our slot.
   */
  reconfigure(shapes: readonly RouteShape[]): void {
    const old = new Map(this.routes.map((r) => [r.shape.name, r]));
    this.routes = shapes.map((shape) => {
      const prev = old.get(shape.name);
      const acc = createAccumulator(shape.arms.length, shape.drift);
      const delta = shape.arms.map(zero);
      if (prev) {
        const carried = shape.arms.map((arm) => {
          const i = prev.shape.arms.indexOf(arm);
          if (i < 0) return zero();
          const pd = prev.delta[i];
          if (pd) Object.assign(delta[shape.arms.indexOf(arm)]!, pd);
          return prev.acc.read(i, zero());
        });
        acc.load(carried);
      }
      return { shape, acc, remote: shape.arms.map(zero), delta };
    });
    this.byName = new Map(shapes.map((s, i) => [s.name, i]));
    this.refreshRemote();
    this.flagsVer++;
    this.touch();
  }

  private adopt(slot: SlotSnapshot): void {
    this.restoredVersion = Math.max(this.restoredVersion, slot.version);
    for (const r of this.routes) {
      const arms = slot.routes[r.shape.name] ?? {};
      r.acc.load(
        r.shape.arms.map((arm, i) => {
          const s = arms[arm] ?? zero();
          const d = r.delta[i]!;
          return { n: s.n + d.n, sum: s.sum + d.sum, sumSq: s.sumSq + d.sumSq };
        }),
      );
    }
    this.flags = new Map(Object.entries(slot.flags).map(([route, arms]) => [route, new Map(Object.entries(arms))]));
    this.version = Math.max(this.version, slot.version) + 1;
    this.updatedAt = Math.max(this.clock.now(), slot.updated_at);
  }

  private refreshRemote(): void {
    for (const r of this.routes) {
      r.remote = r.shape.arms.map((arm) => {
        const total = zero();
        for (const slot of this.remoteSlots.values()) {
          const s = slot.routes[r.shape.name]?.[arm];
          if (!s) continue;
          total.n += s.n;
          total.sum += s.sum;
          total.sumSq += s.sumSq;
        }
        return total;
      });
    }
  }

  private touch(): void {
    this.version++;
    this.updatedAt = this.clock.now();
  }
}
