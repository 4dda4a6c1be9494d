import type { ArmStats } from '../policy/types.js';
import { compareStamps, type Stamp } from './hlc.js';
import { z } from 'zod';
import { ErrorCodes, type Result } from '../util/errors.js';
import { parseUntrusted } from '../util/untrusted.js';
import { mergeRecords, recordsSchema, resetKey, stampSchema, type Records } from './records.js';
import { parseSloSlot, type SloSlot } from '../slo/tally.js';
import type { LinearStats } from '../contextual/model.js';
import { addPacked, parseLinearRoute, type LinearRouteSlot } from './linear.js';

/**
 * The replicated state: one slot per replica, written only by its owner,
 * the fleet's operator records (records.ts), and tombstones of expired slots.
 * Merging keeps, per replica, the newer of slot and tombstone, and per record
 * key the later stamp, so merge is commutative, associative and idempotent (a
 * state-based CRDT): gossip order, duplicates and retries cannot corrupt the
 * fleet view, which is the sum over slots. Ties in version (possible only
 * after a replica restarts without its snapshot) break on updated_at, then on
 * a canonical content string, so every replica picks the same winner.
 *
 * Expiry (expireSnapshot) turns a slot unchanged for `expiry` ms into a
 * tombstone {version, updated_at}; a tombstone beats every copy of the slot
 * up to its version, so an old snapshot cannot bring the slot back. A
 * tombstone is dropped once its updated_at is 2 × expiry old: any copy it
 * guarded is then itself older than the expiry and is expired again on
 * arrival (this needs replica clocks within `expiry` of each other; gossip
 * already refuses messages more than 30 s off).
 */

export interface SlotSnapshot {
  replica: string;
  /**
   * Which process lifetime of the replica wrote this copy. A restarted replica
   * uses it to tell its own echoes (ignored) from an earlier incarnation's
   * progress (adopted while the first sync is open, out-versioned after).
   */
  incarnation?: string;
  version: number;
  /** Epoch ms of the owner's last write (used for staleness and tie-breaks). */
  updated_at: number;
  /**
   * route → arm → stats. For routes with time decay (drift half_life) the
   * stats are as of updated_at; readers fade them by the time since.
   */
  routes: Record<string, Record<string, ArmStats>>;
  /** route → the reset record's stamp this slot's stats start from (absent: never reset). */
  resets?: Record<string, Stamp>;
  /** Contextual routes: route → the linear models' additive statistics per arm (linear.ts), as of updated_at. */
  linear?: Record<string, LinearRouteSlot>;
  /** Routes with an SLO: route → this replica's outcome tally by time bucket (slo/tally.ts). */
  slo?: Record<string, SloSlot>;
}

/** What is left of an expired slot: enough to refuse every older copy of it. */
export interface Tombstone {
  version: number;
  updated_at: number;
}

export interface Snapshot {
  slots: Record<string, SlotSnapshot>;
  /** Operator and guardrail records (records.ts). */
  records?: Records;
  /** replica → tombstone of its expired slot. */
  tombstones?: Record<string, Tombstone>;
}

/**
 * Slot versions follow the owner's clock (version >= ms × VERSIONS_PER_MS,
 * and +1 per write), so gossip can refuse a version from the
 * future (a forged or corrupt copy that would otherwise freeze the slot) and
 * an owner out-versioned by such a copy catches up within the skew limit.
 */
export const VERSIONS_PER_MS = 1024;

/** Highest slot version a message may carry at `now` with clocks up to `maxSkewMs` apart. */
export function maxVersionAt(now: number, maxSkewMs: number): number {
  return (Math.trunc(now) + maxSkewMs) * VERSIONS_PER_MS + VERSIONS_PER_MS;
}

export function emptySnapshot(): Snapshot {
  return { slots: {} };
}

function canonical(slot: SlotSnapshot): string {
  return JSON.stringify(slot, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    }
    return v;
  });
}

/** Total order on copies of the same replica's slot: positive when a is newer. */
export function compareSlots(a: SlotSnapshot, b: SlotSnapshot): number {
  if (a.version !== b.version) return a.version - b.version;
  if (a.updated_at !== b.updated_at) return a.updated_at - b.updated_at;
  // One incarnation never writes two contents under one version: the same copy (no need to compare content).
  if (a === b || (a.incarnation !== undefined && a.incarnation === b.incarnation)) return 0;
  const ca = canonical(a);
  const cb = canonical(b);
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

/** The newer of two copies of one slot (either, when equal). */
export function newerSlot(a: SlotSnapshot, b: SlotSnapshot): SlotSnapshot {
  return compareSlots(a, b) >= 0 ? a : b;
}

/** True when the tombstone covers this copy of the slot (the copy is not newer than what expired). */
export function buries(t: Tombstone, slot: Pick<SlotSnapshot, 'version' | 'updated_at'>): boolean {
  return slot.version < t.version || (slot.version === t.version && slot.updated_at <= t.updated_at);
}

export function newerTombstone(a: Tombstone, b: Tombstone): Tombstone {
  return a.version !== b.version ? (a.version > b.version ? a : b) : a.updated_at >= b.updated_at ? a : b;
}

/** Pure merge: per replica the newer slot unless a tombstone buries it; per record the later stamp. Inputs are not modified. */
export function mergeSnapshots(a: Snapshot, b: Snapshot): Snapshot {
  const tombstones: Record<string, Tombstone> = { ...a.tombstones };
  for (const [replica, t] of Object.entries(b.tombstones ?? {})) {
    const mine = tombstones[replica];
    tombstones[replica] = mine ? newerTombstone(mine, t) : t;
  }
  const slots: Record<string, SlotSnapshot> = {};
  for (const src of [a.slots, b.slots]) {
    for (const [replica, slot] of Object.entries(src)) {
      const t = tombstones[replica];
      if (t && buries(t, slot)) continue;
      const mine = slots[replica];
      slots[replica] = mine ? newerSlot(mine, slot) : slot;
    }
  }
  // Per replica only the newer of slot and tombstone is kept (a chain, so this is still a join).
  for (const replica of Object.keys(slots)) delete tombstones[replica];
  return { slots, records: mergeRecords(a.records ?? {}, b.records ?? {}), tombstones };
}

/**
 * Expiry at `now`: a slot whose updated_at is more than `expiryMs` old
 * becomes a tombstone; a tombstone more than 2 × expiryMs old is dropped.
 * Returns the same object when nothing changed.
 */
export function expireSnapshot(s: Snapshot, now: number, expiryMs: number): Snapshot {
  if (!needsExpiry(s, now, expiryMs)) return s;
  let changed = false;
  const slots: Record<string, SlotSnapshot> = {};
  const tombstones: Record<string, Tombstone> = {};
  for (const [replica, t] of Object.entries(s.tombstones ?? {})) {
    if (now - t.updated_at > 2 * expiryMs) changed = true;
    else tombstones[replica] = t;
  }
  for (const [replica, slot] of Object.entries(s.slots)) {
    if (now - slot.updated_at <= expiryMs) {
      slots[replica] = slot;
      continue;
    }
    changed = true;
    if (now - slot.updated_at > 2 * expiryMs) continue;
    const t: Tombstone = { version: slot.version, updated_at: slot.updated_at };
    const mine = tombstones[replica];
    tombstones[replica] = mine ? newerTombstone(mine, t) : t;
  }
  return changed ? { slots, records: s.records ?? {}, tombstones } : s;
}

/** Whether expireSnapshot would change anything (a scan without allocating). */
export function needsExpiry(s: Snapshot, now: number, expiryMs: number): boolean {
  for (const slot of Object.values(s.slots)) if (now - slot.updated_at > expiryMs) return true;
  for (const t of Object.values(s.tombstones ?? {})) if (now - t.updated_at > 2 * expiryMs) return true;
  return false;
}

/** Stats of a slot's route that count in the fleet view: none when the route was reset after the slot's stats began. */
export function countsAfterReset(slot: SlotSnapshot, route: string, reset: Stamp | undefined): boolean {
  if (!reset) return true;
  const seen = slot.resets?.[route];
  return seen !== undefined && compareStamps(seen, reset) >= 0;
}

/** Fleet statistics of one route and arm: the sum over every slot (undecayed, after the route's last reset). */
export function fleetStats(snapshot: Snapshot, route: string, arm: string): ArmStats {
  const out = { n: 0, sum: 0, sumSq: 0 };
  const reset = snapshot.records?.[resetKey(route)]?.stamp;
  for (const slot of Object.values(snapshot.slots)) {
    if (!countsAfterReset(slot, route, reset)) continue;
    const s = slot.routes[route]?.[arm];
    if (!s) continue;
    out.n += s.n;
    out.sum += s.sum;
    out.sumSq += s.sumSq;
  }
  return out;
}

/** Fleet linear statistics of one contextual route and arm: the sum over every slot with the given feature key (undecayed, after the route's last reset). */
export function fleetLinear(snapshot: Snapshot, route: string, arm: string, key: string, out: LinearStats): LinearStats {
  const reset = snapshot.records?.[resetKey(route)]?.stamp;
  for (const slot of Object.values(snapshot.slots)) {
    if (!countsAfterReset(slot, route, reset)) continue;
    const lr = slot.linear?.[route];
    const s = lr?.arms[arm];
    if (s && lr.key === key && lr.d === out.d) addPacked(out, s, 1);
  }
  return out;
}

// ---- validation of untrusted snapshots (gossip, files) ----

/**
 * A hand-written validator (the value, or a message starting with the path it
 * was given) as a schema, so parts with their own validators (linear models,
 * SLO tallies) report at the same paths as the rest.
 */
function validatedBy<T>(parse: (raw: unknown, path: string) => T | string) {
  return z.unknown().transform((raw, ctx): T => {
    const r = parse(raw, '$');
    if (typeof r !== 'string') return r;
    const m = /^\$((?:\.[^.[:]+|\[\d+\])*): (.*)$/s.exec(r);
    const path = m ? [...m[1]!.matchAll(/\.([^.[:]+)|\[(\d+)\]/g)].map((s) => (s[2] === undefined ? s[1]! : Number(s[2]))) : [];
    ctx.issues.push({ code: 'custom', message: m ? m[2]! : r, path, input: raw });
    return z.NEVER;
  });
}

const nonNeg = z.number().min(0);
const armStatsSchema = z.object({ n: nonNeg, sum: z.number(), sumSq: nonNeg });

/** One replica's slot. `flags` (per-slot quarantines before operator records existed) is accepted and ignored. */
export const slotSchema = z.object({
  replica: z.string().min(1),
  incarnation: z.string().optional(),
  version: nonNeg,
  updated_at: nonNeg,
  routes: z.record(z.string(), z.record(z.string(), armStatsSchema)),
  resets: z.record(z.string(), stampSchema).optional(),
  linear: z.record(z.string(), validatedBy(parseLinearRoute)).optional(),
  slo: z.record(z.string(), validatedBy(parseSloSlot)).optional(),
});

const tombstoneSchema = z.object({ version: nonNeg, updated_at: nonNeg });

export const snapshotSchema = z.object({
  slots: z.record(z.string(), slotSchema).check((ctx) => {
    for (const [replica, slot] of Object.entries(ctx.value)) {
      if (slot.replica !== replica) ctx.issues.push({ code: 'custom', path: [replica, 'replica'], message: 'does not match its key', input: ctx.value });
    }
  }),
  records: recordsSchema,
  tombstones: z.record(z.string(), tombstoneSchema).default({}),
});

/** Structural validation of an untrusted snapshot (from a peer or a file): EB_STATE_CORRUPT naming the bad field. */
export function parseSnapshot(value: unknown): Result<Snapshot> {
  return parseUntrusted(snapshotSchema, value, ErrorCodes.STATE_CORRUPT, 'snapshot');
}
