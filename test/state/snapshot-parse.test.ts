/**
 * parseSnapshot: an untrusted snapshot (a peer's gossip, the aggregator's
 * fleet file) parses to the same value it was written from, or to
 * EB_STATE_CORRUPT naming the first bad field by its path.
 */
import { describe, expect, it } from 'vitest';
import { parseSnapshot, type Snapshot } from '../../src/state/snapshot.js';

const GOOD: Snapshot = {
  slots: {
    r1: { replica: 'r1', incarnation: 'i1', version: 5, updated_at: 1000, routes: { chat: { a: { n: 2, sum: 1.5, sumSq: 1.25 } } }, resets: { chat: { ms: 900, c: 0, r: 'r2' } } },
    r2: { replica: 'r2', version: 1, updated_at: 900, routes: {} },
  },
  records: {
    'mode|chat': { kind: 'mode', route: 'chat', mode: 'paused', stamp: { ms: 950, c: 1, r: 'r2' }, by: { who: 'alice', replica: 'r2' } },
    'guard|chat|a': { kind: 'guard', route: 'chat', arm: 'a', state: 'quarantined', rule: 'error_rate', until: 2000, stamp: { ms: 960, c: 0, r: 'r1' }, by: { who: 'guardrail', replica: 'r1' } },
  },
  tombstones: { r3: { version: 7, updated_at: 500 } },
};

const clone = (): Snapshot & Record<string, unknown> => JSON.parse(JSON.stringify(GOOD)) as Snapshot & Record<string, unknown>;

describe('parseSnapshot', () => {
  it('parses what a replica writes back to the same value', () => {
    const r = parseSnapshot(JSON.parse(JSON.stringify(GOOD)));
    expect(r).toEqual({ ok: true, value: GOOD });
  });

  it('fills absent records and tombstones with empty maps and drops the retired per-slot flags', () => {
    const r = parseSnapshot({ slots: { r1: { ...GOOD.slots.r1, flags: { chat: ['a'] } } } });
    if (!r.ok) throw r.error;
    expect(r.value.records).toEqual({});
    expect(r.value.tombstones).toEqual({});
    expect(r.value.slots.r1).not.toHaveProperty('flags');
  });

  const bad: Array<[string, (s: ReturnType<typeof clone>) => unknown, RegExp]> = [
    ['not an object', () => 'x', /^snapshot: expected a mapping/],
    ['slots missing', (s) => ({ ...s, slots: undefined }), /^snapshot\.slots: required/],
    ['a slot under another replica', (s) => ((s.slots.r1!.replica = 'r9'), s), /^snapshot\.slots\.r1\.replica: does not match its key/],
    ['a negative count', (s) => ((s.slots.r1!.routes.chat!.a!.n = -1), s), /^snapshot\.slots\.r1\.routes\.chat\.a\.n: must be ≥ 0/],
    ['a sum that is not a number', (s) => ((s.slots.r1!.routes.chat!.a! as unknown as Record<string, unknown>).sum = 'x', s), /^snapshot\.slots\.r1\.routes\.chat\.a\.sum: expected a number/],
    ['a reset stamp with a fractional counter', (s) => ((s.slots.r1!.resets!.chat!.c = 0.5), s), /^snapshot\.slots\.r1\.resets\.chat\.c: expected an integer/],
    ['a record under the wrong key', (s) => ((s.records!['mode|other'] = s.records!['mode|chat']!), s), /^snapshot\.records\["mode\|other"\]: key does not match the record \(mode\|chat\)/],
    ['a record of unknown kind', (s) => ((s.records!['mode|chat'] as unknown as Record<string, unknown>).kind = 'delete', s), /^snapshot\.records\["mode\|chat"\]\.kind: unknown kind "delete"/],
    ['an SLO tally with failures above requests (its own validator, reported at its path)', (s) => ((s.slots.r2!.slo = { chat: { bucket_ms: 1000, buckets: [[1, 2, 3]] } }), s), /^snapshot\.slots\.r2\.slo\.chat\.buckets\[0\]: expected \[bucket, requests, failures\]/],
    ['a linear model of dimension 0', (s) => ((s.slots.r2!.linear = { chat: { key: 'k', d: 0, arms: {} } }), s), /^snapshot\.slots\.r2\.linear\.chat\.d: expected an integer in 1\.\./],
    ['a tombstone without a version', (s) => ((s.tombstones!.r3 = { updated_at: 1 } as never), s), /^snapshot\.tombstones\.r3\.version: required/],
  ];
  it.each(bad)('%s: EB_STATE_CORRUPT naming the field', (_name, mutate, message) => {
    const s = clone();
    const r = parseSnapshot(mutate(s));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('EB_STATE_CORRUPT');
      expect(r.error.message).toMatch(message);
    }
  });
});
