/**
 * Operator and guardrail records: the fleet-wide part of the replicated
 * state. Each record is a last-writer-wins register keyed by what it
 * controls (a route's mode, a route's reset epoch, an arm's manual
 * quarantine, an arm's guardrail quarantine) and ordered by its hybrid
 * logical clock stamp (ms, counter, replica id — see hlc.ts). Merging keeps,
 * per key, the record with the greater stamp: commutative, associative and
 * idempotent, so records travel in gossip, snapshot files and the
 * aggregator's fleet file like the statistics slots do.
 *
 * Any replica may write any record, so a release on one replica supersedes a
 * quarantine raised by any other, including one since replaced. Two registers
 * per arm keep an operator's quarantine from being shortened by a concurrent
 * guardrail trip: `manual` (operator quarantine/release) and `guard` (a
 * guardrail trip with its cooldown end, or an operator release). An arm is
 * out while its manual register says quarantined, or its guard register says
 * quarantined and the cooldown has not ended. A release writes both.
 */
import { compareStamps, type Stamp } from './hlc.js';

export type RouteMode = 'active' | 'paused' | 'frozen';
export const ROUTE_MODES: readonly RouteMode[] = ['active', 'paused', 'frozen'];

/** Who wrote a record: the operator (admin caller or "guardrail") and the replica it was written on. */
export interface Actor {
  who: string;
  replica: string;
}

export type RecordValue =
  | { kind: 'mode'; route: string; mode: RouteMode }
  | { kind: 'reset'; route: string }
  | { kind: 'manual'; route: string; arm: string; state: 'quarantined' | 'released' }
  | { kind: 'guard'; route: string; arm: string; state: 'quarantined' | 'released'; rule: string; until: number };

export type FleetRecord = RecordValue & { stamp: Stamp; by: Actor };

/** key (recordKey) → record */
export type Records = Record<string, FleetRecord>;

/** Longest route, arm, rule or actor name a record may carry (bounds a gossip message). */
export const MAX_RECORD_NAME = 256;

export function recordKey(v: Pick<FleetRecord, 'kind' | 'route'> & { arm?: string }): string {
  return v.arm === undefined ? `${v.kind}|${v.route}` : `${v.kind}|${v.route}|${v.arm}`;
}

export const modeKey = (route: string) => recordKey({ kind: 'mode', route });
export const resetKey = (route: string) => recordKey({ kind: 'reset', route });
export const manualKey = (route: string, arm: string) => recordKey({ kind: 'manual', route, arm });
export const guardKey = (route: string, arm: string) => recordKey({ kind: 'guard', route, arm });

/** Pure merge: per key, the record with the greater stamp. Inputs are not modified. */
export function mergeRecords(a: Records, b: Records): Records {
  const out: Records = { ...a };
  for (const [k, r] of Object.entries(b)) {
    const mine = out[k];
    if (!mine || compareStamps(r.stamp, mine.stamp) > 0) out[k] = r;
  }
  return out;
}

/** A quarantine in force for one arm, as /v1/routes and the eligibility cache see it. */
export interface QuarantineFlag {
  rule: string;
  /** The replica the record was written on. */
  replica: string;
  who: string;
  /** Epoch ms the record was written (its stamp's physical part). */
  since: number;
  /** Epoch ms the quarantine ends; Number.MAX_SAFE_INTEGER for "until released". */
  until: number;
}

export const UNTIL_RELEASED = Number.MAX_SAFE_INTEGER;

/** The quarantines in force for (route, arm) at `now`: at most one manual and one guardrail. */
export function quarantinesOf(records: Records, route: string, arm: string, now: number): QuarantineFlag[] {
  const out: QuarantineFlag[] = [];
  const m = records[manualKey(route, arm)];
  if (m && m.kind === 'manual' && m.state === 'quarantined') {
    out.push({ rule: 'manual', replica: m.by.replica, who: m.by.who, since: m.stamp.ms, until: UNTIL_RELEASED });
  }
  const g = records[guardKey(route, arm)];
  if (g && g.kind === 'guard' && g.state === 'quarantined' && g.until > now) {
    out.push({ rule: g.rule, replica: g.by.replica, who: g.by.who, since: g.stamp.ms, until: g.until });
  }
  return out;
}

// ---- validation of untrusted records (gossip, files) ----

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isName = (v: unknown): v is string => typeof v === 'string' && v !== '' && v.length <= MAX_RECORD_NAME;
const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function parseStamp(raw: unknown, path: string): Stamp | string {
  if (!isRecord(raw) || !isNonNegInt(raw.ms) || !isNonNegInt(raw.c) || !isName(raw.r)) {
    return `${path}: expected {ms, c, r} (non-negative integers and a replica id)`;
  }
  return { ms: raw.ms, c: raw.c, r: raw.r };
}

export function parseRecord(raw: unknown, path: string): FleetRecord | string {
  if (!isRecord(raw)) return `${path}: expected an object`;
  const stamp = parseStamp(raw.stamp, `${path}.stamp`);
  if (typeof stamp === 'string') return stamp;
  const by = raw.by;
  if (!isRecord(by) || !isName(by.who) || !isName(by.replica)) return `${path}.by: expected {who, replica} strings`;
  const actor: Actor = { who: by.who, replica: by.replica };
  if (!isName(raw.route)) return `${path}.route: expected a route name`;
  const route = raw.route;
  switch (raw.kind) {
    case 'mode':
      if (!ROUTE_MODES.includes(raw.mode as RouteMode)) return `${path}.mode: expected one of ${ROUTE_MODES.join(', ')}`;
      return { kind: 'mode', route, mode: raw.mode as RouteMode, stamp, by: actor };
    case 'reset':
      return { kind: 'reset', route, stamp, by: actor };
    case 'manual':
    case 'guard': {
      if (!isName(raw.arm)) return `${path}.arm: expected an arm name`;
      if (raw.state !== 'quarantined' && raw.state !== 'released') return `${path}.state: expected quarantined or released`;
      if (raw.kind === 'manual') return { kind: 'manual', route, arm: raw.arm, state: raw.state, stamp, by: actor };
      if (!isName(raw.rule)) return `${path}.rule: expected a rule name`;
      if (typeof raw.until !== 'number' || !Number.isFinite(raw.until) || raw.until < 0) return `${path}.until: expected epoch ms`;
      return { kind: 'guard', route, arm: raw.arm, state: raw.state, rule: raw.rule, until: raw.until, stamp, by: actor };
    }
    default:
      return `${path}.kind: expected mode, reset, manual or guard`;
  }
}

export function parseRecords(raw: unknown, path: string): Records | string {
  if (raw === undefined) return {};
  if (!isRecord(raw)) return `${path}: expected an object`;
  const out: Records = {};
  for (const [key, r] of Object.entries(raw)) {
    const rec = parseRecord(r, `${path}.${key}`);
    if (typeof rec === 'string') return rec;
    if (recordKey(rec) !== key) return `${path}.${key}: key does not match the record (${recordKey(rec)})`;
    out[key] = rec;
  }
  return out;
}
