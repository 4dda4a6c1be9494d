import { randomBytes } from 'node:crypto';
import { DEFAULT_SLOT_EXPIRY_MS } from '../config/defaults.js';
import type { Config, DriftConfig } from '../config/types.js';
import type { ArmStats } from '../policy/types.js';
import type { Clock } from '../util/clock.js';
import { createAccumulator, decayFactor, halfLifeOf, type RouteAccumulator } from './accumulator.js';
import { zeroLinearStats, type LinearStats } from '../contextual/model.js';
import { SLO_BUCKETS, sloBucketMs } from '../slo/budget.js';
import { SloTally } from '../slo/tally.js';
import { addPacked, featureShape, OwnLinear, type LinearRouteSlot } from './linear.js';
import { priorResetBy, type WarmPrior } from './warm-start.js';
import { compareStamps, HybridClock, type Stamp } from './hlc.js';
import { modeKey, quarantinesOf, recordKey, resetKey, type Actor, type FleetRecord, type QuarantineFlag, type RecordValue, type Records, type RouteMode } from './records.js';
import { buries, compareSlots, countsAfterReset, expireSnapshot, newerTombstone, VERSIONS_PER_MS, type SlotSnapshot, type Snapshot, type Tombstone } from './snapshot.js';

export interface RouteShape {
  name: string;
  arms: readonly string[];
  drift: DriftConfig;
  /** Contextual routes: the feature map's key and dimension (the slot carries A, b per arm). */
  linear?: { key: string; dim: number } | null;
  /** Routes with an SLO: its window (the slot carries the outcome tally). */
  sloWindowMs?: number | null;
}

/** The route shapes of a config, in route order: what a ReplicaState is built and reconfigured with. */
export function routeShapes(config: Pick<Config, 'routes'>): RouteShape[] {
  return config.routes.map((r) => ({
    name: r.name,
    arms: r.arms.map((a) => a.name),
    drift: r.policy.drift,
    linear: r.features && (r.policy.type === 'linucb' || r.policy.type === 'lints') ? featureShape(r.features) : null,
    sloWindowMs: r.slo?.window_ms ?? null,
  }));
}

interface LocalRoute {
  shape: RouteShape;
  acc: RouteAccumulator;
  /** 0 when the route's evidence does not fade with time. */
  halfLifeMs: number;
  /** Sum of every other replica's slot, per arm, faded to `remoteAt` (refreshed on merge and expiry). */
  remote: ArmStats[];
  remoteAt: number;
  /** Plain sums recorded since start, re-applied if an older incarnation's slot is adopted. */
  delta: ArmStats[];
  /** Contextual routes: our own A, b per arm; the remote sum faded to `remoteAt`; the delta since start. */
  linear: OwnLinear | null;
  remoteLinear: LinearStats[];
  linearDelta: LinearStats[];
  /** Routes with an SLO: our outcome tally, the sum of every remote slot's, and ours since start. */
  slo: SloTally | null;
  remoteSlo: SloTally | null;
  sloDelta: SloTally | null;
}

export interface MergeResult {
  /** Replicas whose slot this merge replaced or added. */
  updated: string[];
  /** True when our own slot was adopted from a peer (restart recovery). */
  adoptedOwn: boolean;
  /** Operator and guardrail records this merge adopted (newer than ours). */
  records: FleetRecord[];
  /** Slots this merge or the expiry it ran removed. */
  expired: string[];
}

export interface ReplicaStateOptions {
  /** A slot unchanged this long leaves the fleet view (state.slot_expiry). */
  slotExpiryMs?: number;
}

const zero = (): ArmStats => ({ n: 0, sum: 0, sumSq: 0 });

/**
 * This replica's live state: its own slot (accumulators it alone writes), the
 * latest known slot of every other replica, the fleet's operator records, the
 * tombstones of expired slots, and the fleet view the policies read (own +
 * remote, per arm, O(1) to read on the hot path).
 */
export class ReplicaState {
  private routes: LocalRoute[] = [];
  private byName = new Map<string, number>();
  private remoteSlots = new Map<string, SlotSnapshot>();
  /** When each remote slot last advanced, by our clock (staleness). */
  private remoteHeardAt = new Map<string, number>();
  private tombstones = new Map<string, Tombstone>();
  private records: Records = {};
  /** route → the reset stamp our own stats start from. */
  private ownResets = new Map<string, Stamp>();
  private version = 0;
  private updatedAt = 0;
  private recordsVer = 0;
  /** Open until the first sync completes: a newer copy of our own slot is adopted. */
  private adoptionOpen = true;
  /** Version of the earlier incarnation's slot we started from (file or peer); 0 when none. */
  private restoredVersion = 0;
  /** This process lifetime's id, stamped on our slot. */
  readonly incarnation = randomBytes(8).toString('hex');
  readonly hlc: HybridClock;
  readonly slotExpiryMs: number;
  private readonly scratch = zero();
  private linearVer = 0;
  /** Warm-start priors by route name (warm-start.ts): part of the fleet view, never of a slot. */
  private priors = new Map<string, WarmPrior>();

  constructor(
    readonly replicaId: string,
    routes: readonly RouteShape[],
    private readonly clock: Clock,
    opts: ReplicaStateOptions = {},
  ) {
    this.hlc = new HybridClock(replicaId, clock);
    this.slotExpiryMs = opts.slotExpiryMs ?? DEFAULT_SLOT_EXPIRY_MS;
    this.reconfigure(routes);
  }

  routeIndex(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** Records one reward for (route, arm) in our own slot. */
  record(route: number, arm: number, reward: number): void {
    const r = this.routes[route]!;
    const now = this.clock.now();
    r.acc.add(arm, reward, now);
    if (this.adoptionOpen) {
      const d = r.delta[arm]!;
      d.n += 1;
      d.sum += reward;
      d.sumSq += reward * reward;
    }
    this.touch(now);
  }

  /**
   * Records a contextual reward's feature vector (x with its nonzero
   * positions) into our slot's linear statistics for (route, arm). Call
   * beside `record` for the same reward.
   */
  recordLinear(route: number, arm: number, x: Float64Array, nz: Int32Array, nnz: number, reward: number): void {
    const r = this.routes[route]!;
    if (!r.linear || x.length < r.linear.d) return;
    r.linear.add(arm, x, nz, nnz, reward, this.clock.now());
    if (this.adoptionOpen) addDense(r.linearDelta[arm]!, x, nz, nnz, reward);
  }

  /**
   * The fleet's linear statistics of a contextual route's arm into `out`
   * (zeroed first): our slot plus every remote slot with the same feature
   * key, faded to `now` on half_life routes. O(d²).
   */
  linearFleet(route: number, arm: number, now: number, out: LinearStats): LinearStats {
    out.A.fill(0);
    out.b.fill(0);
    out.n = 0;
    const r = this.routes[route]!;
    if (!r.linear || out.d !== r.linear.d) return out;
    r.linear.addInto(arm, out, now);
    const rem = r.remoteLinear[arm];
    if (rem) {
      const f = decayFactor(now - r.remoteAt, r.halfLifeMs);
      for (let i = 0; i < rem.A.length; i++) out.A[i] = out.A[i]! + rem.A[i]! * f;
      for (let i = 0; i < rem.d; i++) out.b[i] = out.b[i]! + rem.b[i]! * f;
      out.n += rem.n * f;
    }
    return out;
  }

  /**
   * Changes whenever the linear statistics changed other than by our own
   * recordLinear (a merge, an expiry, a reset, an adoption, a reload): a
   * contextual policy rebuilds its cached inverses when it moves.
   */
  get linearVersion(): number {
    return this.linearVer;
  }

  /**
   * Sets (or, with null, removes) a route's warm-start prior. Every replica
   * loading the same source holds the same prior; the fleet view adds it to
   * the slots, faded from its own date like any evidence, until a reset newer
   * than its data.
   */
  setPrior(route: string, prior: WarmPrior | null): void {
    if (prior) this.priors.set(route, prior);
    else this.priors.delete(route);
    this.refreshRemote(this.clock.now());
  }

  /** Counts one request outcome in the route's SLO tally (routes with an SLO). */
  recordOutcome(route: number, success: boolean): void {
    const r = this.routes[route]!;
    if (!r.slo) return;
    const now = this.clock.now();
    r.slo.record(success, now);
    if (this.adoptionOpen) r.sloDelta?.record(success, now);
    this.touch(now);
  }

  /** Adds the fleet's SLO counts of the last `span` buckets (our tally + every remote slot's) into out. */
  sloCountInto(route: number, now: number, span: number, out: { requests: number; failures: number }): void {
    const r = this.routes[route]!;
    r.slo?.countInto(now, span, out);
    r.remoteSlo?.countInto(now, span, out);
  }

  /** Fleet statistics (own + every remote slot, faded to now for half_life routes) into `out`, without allocating. */
  fleet(route: number, arm: number, out: ArmStats): ArmStats {
    const r = this.routes[route]!;
    r.acc.read(arm, out);
    const rem = r.remote[arm]!;
    const f = r.halfLifeMs > 0 ? decayFactor(this.clock.now() - r.remoteAt, r.halfLifeMs) : 1;
    out.n += rem.n * f;
    out.sum += rem.sum * f;
    out.sumSq += rem.sumSq * f;
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

  // ---- operator and guardrail records ----

  /**
   * Writes a record on this replica: stamped by our hybrid clock (so it is
   * ordered after every record we have seen), in force here at once and on
   * every replica once gossip carries it.
   */
  write(value: RecordValue, who: string): FleetRecord {
    const by: Actor = { who, replica: this.replicaId };
    const rec = { ...value, stamp: this.hlc.now(), by } as FleetRecord;
    this.records = { ...this.records, [recordKey(rec)]: rec };
    this.recordsVer++;
    this.reconcileResets();
    return rec;
  }

  /** The fleet's record for a key (records.ts key helpers), if any. */
  recordOf(key: string): FleetRecord | undefined {
    return this.records[key];
  }

  /** Every record this replica knows, oldest stamp first. */
  allRecords(): FleetRecord[] {
    return Object.values(this.records).sort((a, b) => compareStamps(a.stamp, b.stamp));
  }

  /** A route's mode by the fleet's records (active when none was ever set). */
  modeOf(route: string): RouteMode {
    const r = this.records[modeKey(route)];
    return r?.kind === 'mode' ? r.mode : 'active';
  }

  /** The stamp of the route's last reset, if any. */
  resetOf(route: string): Stamp | undefined {
    return this.records[resetKey(route)]?.stamp;
  }

  /** Quarantines in force for this arm, raised on any replica and not released since. */
  activeFlags(route: string, arm: string, now: number): QuarantineFlag[] {
    return quarantinesOf(this.records, route, arm, now);
  }

  // ---- slots ----

  ownSlot(): SlotSnapshot {
    const routes: SlotSnapshot['routes'] = {};
    for (const r of this.routes) {
      const arms: Record<string, ArmStats> = {};
      r.shape.arms.forEach((name, i) => (arms[name] = r.acc.readAt(i, zero(), this.updatedAt)));
      routes[r.shape.name] = arms;
    }
    const slot: SlotSnapshot = { replica: this.replicaId, incarnation: this.incarnation, version: this.version, updated_at: this.updatedAt, routes };
    if (this.ownResets.size) slot.resets = Object.fromEntries(this.ownResets);
    const linear: Record<string, LinearRouteSlot> = {};
    const slo: NonNullable<SlotSnapshot['slo']> = {};
    for (const r of this.routes) {
      const own = r.linear;
      if (own) {
        const arms: LinearRouteSlot['arms'] = {};
        r.shape.arms.forEach((name, i) => (arms[name] = own.packAt(i, this.updatedAt)));
        linear[r.shape.name] = { key: own.key, d: own.d, arms };
      }
      if (r.slo) slo[r.shape.name] = r.slo.toSlot(this.updatedAt);
    }
    if (Object.keys(linear).length) slot.linear = linear;
    if (Object.keys(slo).length) slot.slo = slo;
    return slot;
  }

  /**
   * The whole replicated state. Runs upkeep first: our slot is rewritten when
   * it has been idle for a quarter of the expiry (so peers never expire a live
   * replica), and expired remote slots become tombstones.
   */
  snapshot(): Snapshot {
    this.upkeep(this.clock.now());
    const slots: Record<string, SlotSnapshot> = { [this.replicaId]: this.ownSlot() };
    for (const [id, slot] of this.remoteSlots) slots[id] = slot;
    return { slots, records: this.records, tombstones: Object.fromEntries(this.tombstones) };
  }

  /** Heartbeat of our own slot and expiry of the others'. Returns the replicas whose slot expired. */
  upkeep(now: number): string[] {
    if (now - this.updatedAt >= this.slotExpiryMs / 4) this.touch(now);
    return this.expire(now);
  }

  /**
   * Merges a peer's snapshot (already validated and capped). Remote slots
   * keep the newer copy unless a tombstone buries it; records keep the later
   * stamp. A copy of our own slot from this incarnation is an echo and
   * ignored. One from an earlier incarnation that is newer than what we
   * restored means that incarnation got further than our snapshot file: while
   * adoption is open we take its statistics plus what we recorded since
   * start. Either way (and for a tombstone of our own slot) our version jumps
   * past every foreign copy, so our writes win everywhere.
   */
  merge(incoming: Snapshot): MergeResult {
    const updated: string[] = [];
    const records: FleetRecord[] = [];
    let adoptedOwn = false;
    const now = this.clock.now();
    for (const [key, rec] of Object.entries(incoming.records ?? {})) {
      const mine = this.records[key];
      if (mine && compareStamps(rec.stamp, mine.stamp) <= 0) continue;
      records.push(rec);
      this.hlc.observe(rec.stamp);
    }
    if (records.length) {
      this.records = { ...this.records };
      for (const rec of records) this.records[recordKey(rec)] = rec;
    }
    let buried = false;
    for (const [id, t] of Object.entries(incoming.tombstones ?? {})) {
      if (id === this.replicaId) {
        // Peers expired our slot (we were cut off longer than the expiry): write past the tombstone.
        if (t.version >= this.version) {
          this.version = t.version;
          this.touch(now);
        }
        continue;
      }
      const mine = this.tombstones.get(id);
      const next = mine ? newerTombstone(mine, t) : t;
      if (next === mine) continue;
      this.tombstones.set(id, next);
      const slot = this.remoteSlots.get(id);
      if (slot && buries(next, slot)) {
        this.remoteSlots.delete(id);
        this.remoteHeardAt.delete(id);
        buried = true;
      }
    }
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
      const t = this.tombstones.get(id);
      if (t && buries(t, slot)) continue;
      if (now - slot.updated_at > this.slotExpiryMs) continue;
      const mine = this.remoteSlots.get(id);
      if (!mine || compareSlots(slot, mine) > 0) {
        this.remoteSlots.set(id, slot);
        this.remoteHeardAt.set(id, now);
        this.tombstones.delete(id);
        updated.push(id);
      }
    }
    if (records.length) {
      this.recordsVer++;
      this.reconcileResets();
    }
    const expired = this.expire(now, updated.length > 0 || records.length > 0 || buried);
    return { updated, adoptedOwn, records, expired };
  }

  /** Loads our own slot (and the records saved beside it) from the snapshot file at start. */
  restoreOwn(slot: SlotSnapshot, records: Records = {}): void {
    if (Object.keys(records).length) this.merge({ slots: {}, records });
    this.adopt(slot);
  }

  /** Called once the first sync is done (or timed out): our writes are authoritative from now on. */
  closeAdoption(): void {
    this.adoptionOpen = false;
    for (const r of this.routes) {
      r.delta = r.shape.arms.map(zero);
      r.linearDelta = r.linear ? r.shape.arms.map(() => zeroLinearStats(r.linear!.d)) : [];
      r.sloDelta?.clear();
    }
    this.touch(this.clock.now());
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

  /** Replicas whose expired slot is remembered as a tombstone. */
  tombstoned(): string[] {
    return [...this.tombstones.keys()];
  }

  /** Changes whenever an operator or guardrail record may have changed (cache key for eligibility and modes). */
  get flagsVersion(): number {
    return this.recordsVer;
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
    const now = this.clock.now();
    this.routes = shapes.map((shape) => {
      const prev = old.get(shape.name);
      const acc = createAccumulator(shape.arms.length, shape.drift, this.clock);
      const delta = shape.arms.map(zero);
      const halfLifeMs = halfLifeOf(shape.drift);
      const lin = shape.linear ?? null;
      const linear = lin ? new OwnLinear(lin.key, lin.dim, shape.arms.length, halfLifeMs, now) : null;
      const linearDelta = lin ? shape.arms.map(() => zeroLinearStats(lin.dim)) : [];
      const bucketMs = shape.sloWindowMs ? sloBucketMs(shape.sloWindowMs) : 0;
      const slo = bucketMs > 0 ? new SloTally(bucketMs, SLO_BUCKETS) : null;
      const sloDelta = bucketMs > 0 ? new SloTally(bucketMs, SLO_BUCKETS) : null;
      if (prev) {
        const carried = shape.arms.map((arm) => {
          const i = prev.shape.arms.indexOf(arm);
          if (i < 0) return zero();
          const pd = prev.delta[i];
          if (pd) Object.assign(delta[shape.arms.indexOf(arm)]!, pd);
          return prev.acc.readAt(i, zero(), now);
        });
        acc.load(carried, now);
        // Linear statistics survive a reload only with the same feature map (same key and dimension).
        const pl = prev.linear;
        if (linear && pl && pl.key === linear.key && pl.d === linear.d) {
          shape.arms.forEach((arm, a) => {
            const i = prev.shape.arms.indexOf(arm);
            if (i < 0) return;
            linear.load(a, pl.packAt(i, now), now);
            const pd = prev.linearDelta[i];
            if (pd) addLinear(linearDelta[a]!, pd);
          });
        }
        if (slo && prev.slo?.bucketMs === bucketMs) {
          slo.addSlot(prev.slo.toSlot(now));
          if (prev.sloDelta) sloDelta?.addSlot(prev.sloDelta.toSlot(now));
        }
      }
      return { shape, acc, halfLifeMs, remote: shape.arms.map(zero), remoteAt: now, delta, linear, remoteLinear: [], linearDelta, slo, remoteSlo: null, sloDelta };
    });
    this.byName = new Map(shapes.map((s, i) => [s.name, i]));
    this.refreshRemote(now);
    this.recordsVer++;
    this.touch(now);
  }

  /** Resets our own stats of every route whose reset record is newer than the one they start from. */
  private reconcileResets(): void {
    let changed = false;
    for (const r of this.routes) {
      const reset = this.resetOf(r.shape.name);
      if (!reset) continue;
      const seen = this.ownResets.get(r.shape.name);
      if (seen && compareStamps(seen, reset) >= 0) continue;
      r.acc.load([]);
      r.delta = r.shape.arms.map(zero);
      r.linear?.clear();
      for (const d of r.linearDelta) clearLinear(d);
      this.ownResets.set(r.shape.name, reset);
      changed = true;
    }
    if (changed) {
      const now = this.clock.now();
      this.refreshRemote(now);
      this.touch(now);
    }
  }

  private expire(now: number, dirty = false): string[] {
    const expired: string[] = [];
    const due = (() => {
      for (const slot of this.remoteSlots.values()) if (now - slot.updated_at > this.slotExpiryMs) return true;
      for (const t of this.tombstones.values()) if (now - t.updated_at > 2 * this.slotExpiryMs) return true;
      return false;
    })();
    if (due) {
      const snap: Snapshot = { slots: Object.fromEntries(this.remoteSlots), tombstones: Object.fromEntries(this.tombstones) };
      const after = expireSnapshot(snap, now, this.slotExpiryMs);
      for (const id of this.remoteSlots.keys()) {
        if (!after.slots[id]) {
          expired.push(id);
          this.remoteSlots.delete(id);
          this.remoteHeardAt.delete(id);
        }
      }
      this.tombstones = new Map(Object.entries(after.tombstones ?? {}));
    }
    if (dirty || expired.length) this.refreshRemote(now);
    return expired;
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
        slot.updated_at,
      );
      const own = r.linear;
      if (own) {
        const lr = slot.linear?.[r.shape.name];
        const fits = lr !== undefined && lr.key === own.key && lr.d === own.d;
        r.shape.arms.forEach((arm, i) => own.load(i, fits ? lr.arms[arm] : undefined, slot.updated_at, r.linearDelta[i]));
      }
      if (r.slo) {
        r.slo.clear();
        const ss = slot.slo?.[r.shape.name];
        if (ss) r.slo.addSlot(ss);
        if (r.sloDelta) r.slo.addSlot(r.sloDelta.toSlot(this.clock.now()));
      }
      const seen = slot.resets?.[r.shape.name];
      if (seen) this.ownResets.set(r.shape.name, seen);
      else this.ownResets.delete(r.shape.name);
    }
    this.version = Math.max(this.version, slot.version);
    this.linearVer++;
    this.touch(Math.max(this.clock.now(), slot.updated_at));
    // The adopted stats may predate a reset the fleet has since made.
    this.reconcileResets();
  }

  private refreshRemote(now: number): void {
    this.linearVer++;
    for (const r of this.routes) {
      const reset = this.resetOf(r.shape.name);
      r.remoteAt = now;
      const own = r.linear;
      if (own) {
        r.remoteLinear = r.shape.arms.map((arm) => {
          const total = zeroLinearStats(own.d);
          for (const slot of this.remoteSlots.values()) {
            const lr = slot.linear?.[r.shape.name];
            const s = lr?.arms[arm];
            if (!s || lr.key !== own.key || lr.d !== own.d || !countsAfterReset(slot, r.shape.name, reset)) continue;
            addPacked(total, s, decayFactor(now - slot.updated_at, r.halfLifeMs));
          }
          const prior = this.priors.get(r.shape.name);
          const pl = prior?.linear;
          const ps = pl?.arms[arm];
          if (prior && ps && pl.key === own.key && pl.d === own.d && !priorResetBy(prior, reset)) addLinearScaled(total, ps, decayFactor(now - prior.at, r.halfLifeMs));
          return total;
        });
      }
      if (r.slo) {
        const tally = new SloTally(r.slo.bucketMs, SLO_BUCKETS);
        for (const slot of this.remoteSlots.values()) {
          const ss = slot.slo?.[r.shape.name];
          if (ss) tally.addSlot(ss);
        }
        r.remoteSlo = tally;
      }
      r.remote = r.shape.arms.map((arm) => {
        const total = zero();
        for (const slot of this.remoteSlots.values()) {
          const s = slot.routes[r.shape.name]?.[arm];
          if (!s || !countsAfterReset(slot, r.shape.name, reset)) continue;
          const f = decayFactor(now - slot.updated_at, r.halfLifeMs);
          total.n += s.n * f;
          total.sum += s.sum * f;
          total.sumSq += s.sumSq * f;
        }
        const prior = this.priors.get(r.shape.name);
        if (prior && !priorResetBy(prior, reset)) {
          const s = prior.arms[arm];
          const f = decayFactor(now - prior.at, r.halfLifeMs);
          if (s) {
            total.n += s.n * f;
            total.sum += s.sum * f;
            total.sumSq += s.sumSq * f;
          }
        }
        return total;
      });
    }
  }

  /**
   * A write: the version follows time once adoption is closed (see
   * VERSIONS_PER_MS). While it is open it only counts up from what we
   * restored, so a fresh slot never out-versions the earlier incarnation's
   * copy that peers hold and we are about to adopt.
   */
  private touch(now: number): void {
    this.version = this.adoptionOpen ? this.version + 1 : Math.max(this.version + 1, Math.trunc(now) * VERSIONS_PER_MS);
    this.updatedAt = now;
  }
}

function addDense(into: LinearStats, x: Float64Array, nz: Int32Array, nnz: number, r: number): void {
  const d = into.d;
  for (let p = 0; p < nnz; p++) {
    const i = nz[p]!;
    for (let q = 0; q < nnz; q++) into.A[i * d + nz[q]!] = into.A[i * d + nz[q]!]! + x[i]! * x[nz[q]!]!;
    into.b[i] = into.b[i]! + r * x[i]!;
  }
  into.n += 1;
}

function addLinearScaled(into: LinearStats, from: LinearStats, f: number): void {
  for (let i = 0; i < into.A.length; i++) into.A[i] = into.A[i]! + from.A[i]! * f;
  for (let i = 0; i < into.d; i++) into.b[i] = into.b[i]! + from.b[i]! * f;
  into.n += from.n * f;
}

function addLinear(into: LinearStats, from: LinearStats): void {
  for (let i = 0; i < into.A.length; i++) into.A[i] = into.A[i]! + from.A[i]!;
  for (let i = 0; i < into.d; i++) into.b[i] = into.b[i]! + from.b[i]!;
  into.n += from.n;
}

function clearLinear(s: LinearStats): void {
  s.A.fill(0);
  s.b.fill(0);
  s.n = 0;
}
