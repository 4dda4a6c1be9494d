import { describe, expect, it } from 'vitest';
import { admitSnapshot, MAX_LINEAR_VALUES_PER_MESSAGE, MAX_RECORDS_PER_MESSAGE, MAX_SLOTS_PER_MESSAGE } from '../../src/gossip/admit.js';
import { packedLength } from '../../src/state/linear.js';
import { DEFAULT_MAX_SKEW_MS } from '../../src/gossip/envelope.js';
import { recordKey, type FleetRecord } from '../../src/state/records.js';
import { maxVersionAt, type SlotSnapshot } from '../../src/state/snapshot.js';

const NOW = 1_700_000_000_000;
const slot = (replica: string, updated_at = NOW, version = 1): SlotSnapshot => ({ replica, version, updated_at, routes: {} });

describe('what one gossip message may bring in', () => {
  it('keeps the most recently updated slots up to the cap and counts the rest', () => {
    const slots = Object.fromEntries(Array.from({ length: MAX_SLOTS_PER_MESSAGE + 7 }, (_, i) => [`r${i}`, slot(`r${i}`, NOW - i)]));
    const a = admitSnapshot({ slots }, NOW, DEFAULT_MAX_SKEW_MS);
    expect(Object.keys(a.snapshot.slots)).toHaveLength(MAX_SLOTS_PER_MESSAGE);
    expect(a.snapshot.slots[`r${MAX_SLOTS_PER_MESSAGE + 6}`]).toBeUndefined();
    expect(a.dropped).toEqual({ slot_cap: 7 });
  });

  it('refuses a slot version beyond what the sender’s clock allows (it would freeze the slot) and anything dated in the future', () => {
    const a = admitSnapshot(
      {
        slots: { forged: slot('forged', NOW, Number.MAX_SAFE_INTEGER), ahead: slot('ahead', NOW + DEFAULT_MAX_SKEW_MS + 1), fine: slot('fine', NOW, maxVersionAt(NOW, DEFAULT_MAX_SKEW_MS)) },
        tombstones: { t: { version: 1, updated_at: NOW + 10 * DEFAULT_MAX_SKEW_MS } },
      },
      NOW,
      DEFAULT_MAX_SKEW_MS,
    );
    expect(Object.keys(a.snapshot.slots)).toEqual(['fine']);
    expect(a.snapshot.tombstones).toEqual({});
    expect(a.dropped).toEqual({ version_cap: 1, future: 2 });
  });

  it('keeps the latest records up to the cap and drops records stamped in the future', () => {
    const rec = (i: number, ms = NOW - i): FleetRecord => ({ kind: 'mode', route: `route-${i}`, mode: 'paused', stamp: { ms, c: 0, r: 'r1' }, by: { who: 'ops', replica: 'r1' } });
    const all = Array.from({ length: MAX_RECORDS_PER_MESSAGE + 3 }, (_, i) => rec(i));
    all.push({ ...rec(-1), route: 'future', stamp: { ms: NOW + DEFAULT_MAX_SKEW_MS + 1, c: 0, r: 'r1' } });
    const a = admitSnapshot({ slots: {}, records: Object.fromEntries(all.map((r) => [recordKey(r), r])) }, NOW, DEFAULT_MAX_SKEW_MS);
    expect(Object.keys(a.snapshot.records ?? {})).toHaveLength(MAX_RECORDS_PER_MESSAGE);
    expect(a.snapshot.records?.[recordKey(rec(0))]).toBeDefined();
    expect(a.dropped).toEqual({ record_cap: 3, future: 1 });
  });

  it('caps the contextual statistics a message brings in: the most recently updated slots fit, the rest wait (counted as linear_cap)', () => {
    const d = 64;
    const arm = { n: 1, A: new Array<number>(packedLength(d)).fill(0), b: new Array<number>(d).fill(0) };
    const perSlot = 5 * (packedLength(d) + d + 1);
    const fit = Math.floor(MAX_LINEAR_VALUES_PER_MESSAGE / perSlot);
    const slots = Object.fromEntries(
      Array.from({ length: fit + 3 }, (_, i) => [`r${i}`, { ...slot(`r${i}`, NOW - i), linear: { chat: { key: 'k', d, arms: Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((x) => [x, arm])) } } }]),
    );
    const a = admitSnapshot({ slots }, NOW, DEFAULT_MAX_SKEW_MS);
    expect(Object.keys(a.snapshot.slots)).toHaveLength(fit);
    expect(a.snapshot.slots[`r${fit}`]).toBeUndefined();
    expect(a.snapshot.slots.r0).toBeDefined();
    expect(a.dropped).toEqual({ linear_cap: 3 });
  });
});
