import type { ArmStats } from '../policy/types.js';

/**
 * The replicated state: one slot per replica, written only by its owner.
 * Merging keeps, per replica, the slot with the higher version, so merge is
 * commutative, associative and idempotent (a state-based CRDT): gossip order,
 * duplicates and retries cannot corrupt the fleet view, which is the sum over
 * slots. Ties in version (possible only after a replica restarts without its
 * snapshot) break on updated_at, then on a canonical content string, so every
 * replica picks the same winner.
 */

/** A per-arm operational flag a replica publishes, e.g. a guardrail quarantine. */
export interface ArmFlag {
  state: 'quarantined';
  /** Epoch ms after which the flag no longer applies (the cooldown end). */
  until: number;
  rule: string;
  /** Epoch ms the trip happened. */
  since: number;
}

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
  /** route → arm → stats */
  routes: Record<string, Record<string, ArmStats>>;
  /** route → arm → flag */
  flags: Record<string, Record<string, ArmFlag>>;
}

export interface Snapshot {
  slots: Record<string, SlotSnapshot>;
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
  const ca = canonical(a);
  const cb = canonical(b);
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

/** The newer of two copies of one slot (either, when equal). */
export function newerSlot(a: SlotSnapshot, b: SlotSnapshot): SlotSnapshot {
  return compareSlots(a, b) >= 0 ? a : b;
}

/** Pure merge: for each replica, the newer slot. Inputs are not modified. */
export function mergeSnapshots(a: Snapshot, b: Snapshot): Snapshot {
  const slots: Record<string, SlotSnapshot> = { ...a.slots };
  for (const [replica, slot] of Object.entries(b.slots)) {
    const mine = slots[replica];
    slots[replica] = mine ? newerSlot(mine, slot) : slot;
  }
  return { slots };
}

/** Fleet statistics of one route and arm: the sum over every slot. */
export function fleetStats(snapshot: Snapshot, route: string, arm: string): ArmStats {
  const out = { n: 0, sum: 0, sumSq: 0 };
  for (const slot of Object.values(snapshot.slots)) {
    const s = slot.routes[route]?.[arm];
    if (!s) continue;
    out.n += s.n;
    out.sum += s.sum;
    out.sumSq += s.sumSq;
  }
  return out;
}

/** Structural validation of an untrusted snapshot (from a peer or a file). */
export function parseSnapshot(value: unknown): Snapshot | string {
  if (!isRecord(value) || !isRecord(value.slots)) return 'snapshot.slots: expected an object';
  const slots: Record<string, SlotSnapshot> = {};
  for (const [replica, raw] of Object.entries(value.slots)) {
    const slot = parseSlot(raw, `slots.${replica}`);
    if (typeof slot === 'string') return slot;
    if (slot.replica !== replica) return `slots.${replica}.replica: does not match its key`;
    slots[replica] = slot;
  }
  return { slots };
}

export function parseSlot(raw: unknown, path: string): SlotSnapshot | string {
  if (!isRecord(raw)) return `${path}: expected an object`;
  if (typeof raw.replica !== 'string' || raw.replica === '') return `${path}.replica: expected a string`;
  if (!isFiniteNonNeg(raw.version)) return `${path}.version: expected a number >= 0`;
  if (!isFiniteNonNeg(raw.updated_at)) return `${path}.updated_at: expected a number >= 0`;
  if (!isRecord(raw.routes)) return `${path}.routes: expected an object`;
  const routes: SlotSnapshot['routes'] = {};
  for (const [route, arms] of Object.entries(raw.routes)) {
    if (!isRecord(arms)) return `${path}.routes.${route}: expected an object`;
    const out: Record<string, ArmStats> = {};
    for (const [arm, s] of Object.entries(arms)) {
      if (!isRecord(s) || !isFiniteNonNeg(s.n) || !isFinite(s.sum) || !isFiniteNonNeg(s.sumSq)) {
        return `${path}.routes.${route}.${arm}: expected {n, sum, sumSq} finite numbers`;
      }
      out[arm] = { n: s.n, sum: s.sum, sumSq: s.sumSq };
    }
    routes[route] = out;
  }
  const flags: SlotSnapshot['flags'] = {};
  const rawFlags = raw.flags ?? {};
  if (!isRecord(rawFlags)) return `${path}.flags: expected an object`;
  for (const [route, arms] of Object.entries(rawFlags)) {
    if (!isRecord(arms)) return `${path}.flags.${route}: expected an object`;
    const out: Record<string, ArmFlag> = {};
    for (const [arm, f] of Object.entries(arms)) {
      if (!isRecord(f) || f.state !== 'quarantined' || !isFiniteNonNeg(f.until) || !isFiniteNonNeg(f.since) || typeof f.rule !== 'string') {
        return `${path}.flags.${route}.${arm}: expected {state: quarantined, until, since, rule}`;
      }
      out[arm] = { state: 'quarantined', until: f.until, since: f.since, rule: f.rule };
    }
    flags[route] = out;
  }
  if (raw.incarnation !== undefined && typeof raw.incarnation !== 'string') return `${path}.incarnation: expected a string`;
  const slot: SlotSnapshot = { replica: raw.replica, version: raw.version, updated_at: raw.updated_at, routes, flags };
  if (typeof raw.incarnation === 'string') slot.incarnation = raw.incarnation;
  return slot;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isFinite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function isFiniteNonNeg(v: unknown): v is number {
  return isFinite(v) && v >= 0;
}
