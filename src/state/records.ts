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
import { z } from 'zod';
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

const name = z.string().min(1).max(MAX_RECORD_NAME);
const nonNegInt = z.int().min(0);

export const stampSchema = z.object({ ms: nonNegInt, c: nonNegInt, r: name });

const recordBase = { route: name, stamp: stampSchema, by: z.object({ who: name, replica: name }) };
const armState = z.enum(['quarantined', 'released']);

export const recordSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('mode'), ...recordBase, mode: z.enum(['active', 'paused', 'frozen']) }),
  z.object({ kind: z.literal('reset'), ...recordBase }),
  z.object({ kind: z.literal('manual'), ...recordBase, arm: name, state: armState }),
  z.object({ kind: z.literal('guard'), ...recordBase, arm: name, state: armState, rule: name, until: z.number().min(0) }),
]);

/** key → record, each under the key it controls (recordKey). Absent: no records. */
export const recordsSchema = z
  .record(z.string(), recordSchema)
  .check((ctx) => {
    for (const [key, rec] of Object.entries(ctx.value)) {
      if (recordKey(rec) !== key) ctx.issues.push({ code: 'custom', path: [key], message: `key does not match the record (${recordKey(rec)})`, input: ctx.value });
    }
  })
  .default({});
