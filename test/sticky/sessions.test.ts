import { describe, expect, it } from 'vitest';
import type { StickyConfig } from '../../src/config/types.js';
import { MAX_SESSION_KEY_LENGTH } from '../../src/config/defaults.js';
import { PinCodec } from '../../src/sticky/pin.js';
import { rendezvous } from '../../src/sticky/rendezvous.js';
import { armSalt, hashSessionKey } from '../../src/sticky/session-key.js';
import { readCookie, StickySessions } from '../../src/sticky/sessions.js';
import { StickyTable } from '../../src/sticky/table.js';
import { headerList as headers } from '../support/engine.js';

const CFG: StickyConfig = { header: 'x-session-id', cookie: 'sid', ttl_ms: 60_000, max_sessions: 1000, pin_header: 'x-bandit-pin' };
const ARMS = ['model-a', 'model-b', 'model-c'];
const KEY = Buffer.alloc(32, 7);
const T0 = 1_700_000_000_000;

describe('session keys', () => {
  it('hash to a stable non-zero 53-bit number; an over-long or empty key is not sticky', () => {
    const h = hashSessionKey('user-42');
    expect(h).toBe(hashSessionKey('user-42'));
    expect(h).not.toBe(hashSessionKey('user-43'));
    expect(Number.isSafeInteger(h) && h > 0).toBe(true);
    expect(hashSessionKey('x'.repeat(MAX_SESSION_KEY_LENGTH))).toBeGreaterThan(0);
    expect(hashSessionKey('x'.repeat(MAX_SESSION_KEY_LENGTH + 1))).toBe(0);
    expect(hashSessionKey('')).toBe(0);
  });

  it('100,000 distinct keys give 100,000 distinct hashes', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++) seen.add(hashSessionKey(`session-${i}`));
    expect(seen.size).toBe(100_000);
  });

  it('keys a session by header first, then cookie', () => {
    const s = new StickySessions(CFG, 'chat', ARMS, new PinCodec(KEY));
    expect(s.keyOf(headers({ 'x-session-id': 'h1', cookie: 'sid=c1' }))).toBe('h1');
    expect(s.keyOf(headers({ cookie: 'a=1; sid=c1; b=2' }))).toBe('c1');
    expect(s.keyOf(headers({}))).toBeUndefined();
    expect(s.read(headers({ 'x-session-id': 'k'.repeat(MAX_SESSION_KEY_LENGTH + 1) }), T0)).toMatchObject({ session: 0, tooLong: true });
  });

  it('readCookie ignores names that only share a prefix', () => {
    expect(readCookie('sidx=1; sid=2', 'sid')).toBe('2');
    expect(readCookie('sid=', 'sid')).toBeUndefined();
  });
});

describe('weighted rendezvous', () => {
  const salts = ARMS.map(armSalt);
  const hashes = Array.from({ length: 20_000 }, (_, i) => hashSessionKey(`s${i}`));

  it('gives each arm about its share of sessions', () => {
    const counts = [0, 0, 0];
    for (const h of hashes) counts[rendezvous(h, salts, [0.6, 0.3, 0.1])]!++;
    expect(counts[0]! / hashes.length).toBeCloseTo(0.6, 1);
    expect(counts[1]! / hashes.length).toBeCloseTo(0.3, 1);
    expect(counts[2]! / hashes.length).toBeCloseTo(0.1, 1);
  });

  it('removing an arm moves only its own sessions; a small share change moves few', () => {
    const before = hashes.map((h) => rendezvous(h, salts, [0.5, 0.3, 0.2]));
    const without = hashes.map((h) => rendezvous(h, salts, [0.5, 0, 0.2]));
    for (let i = 0; i < hashes.length; i++) if (before[i] !== 1) expect(without[i]).toBe(before[i]);
    // …and the removed arm's own sessions do move (about its 30 % of them).
    expect(before.filter((a) => a === 1).length / hashes.length).toBeCloseTo(0.3, 1);
    expect(without.filter((a) => a === 1)).toEqual([]);
    const nudged = hashes.map((h) => rendezvous(h, salts, [0.51, 0.29, 0.2]));
    const moved = nudged.filter((a, i) => a !== before[i]).length;
    expect(moved / hashes.length).toBeLessThan(0.03);
  });

  it('depends on arm names, not their order in the config', () => {
    const reordered = [salts[2]!, salts[0]!, salts[1]!];
    for (const h of hashes.slice(0, 500)) {
      expect(ARMS[rendezvous(h, salts, [0.5, 0.3, 0.2])]).toBe([ARMS[2], ARMS[0], ARMS[1]][rendezvous(h, reordered, [0.2, 0.5, 0.3])]);
    }
  });

  it('returns -1 when no arm has a share', () => {
    expect(rendezvous(hashes[0]!, salts, [0, 0, 0])).toBe(-1);
  });
});

describe('StickyTable', () => {
  it('forgets a session after its TTL of inactivity; use refreshes it', () => {
    const t = new StickyTable(10, 1000);
    t.set(5, 2, 0);
    expect(t.get(5, 900)).toBe(2);
    expect(t.get(5, 1800)).toBe(2);
    expect(t.get(5, 2801)).toBe(-1);
  });

  it('allocates once for max_sessions and evicts the least recently used of a full set', () => {
    const t = new StickyTable(8, 60_000); // one set of 16
    expect(t.capacity).toBe(16);
    for (let k = 1; k <= 16; k++) t.set(k * 2 ** 20, k, k);
    t.get(2 ** 20, 100); // it is now the most recent
    t.set(99 * 2 ** 20, 3, 101);
    expect(t.get(2 * 2 ** 20, 102)).toBe(-1);
    expect(t.get(2 ** 20, 102)).toBe(1);
    expect(t.get(99 * 2 ** 20, 102)).toBe(3);
    expect(t.size(102)).toBe(16);
  });

  it('holds max_sessions sessions within its fixed capacity', () => {
    const t = new StickyTable(100_000, 60_000);
    for (let i = 0; i < 100_000; i++) t.set(hashSessionKey(`s${i}`), i % 3, 0);
    // Two-choice sets at ≤ half load: none fills before the table does.
    expect(t.size(0)).toBe(100_000);
    expect(t.capacity).toBeLessThanOrEqual(4 * 100_000);
  });
});

describe('PinCodec', () => {
  const codec = new PinCodec(KEY);
  const s = hashSessionKey('user-1');

  it('verifies its own pin for the same route and session, on any replica with the same secret', () => {
    const pin = codec.issue('chat', s, 'model-b', T0);
    expect(new PinCodec(KEY).verify(pin, 'chat', s, T0 + 1000, 60_000)).toEqual({ arm: 'model-b', issued: Math.floor(T0 / 1000) * 1000 });
  });

  it('refuses a forged arm, another session or route, another secret, an expired pin and garbage', () => {
    const pin = codec.issue('chat', s, 'model-b', T0);
    expect(codec.verify(pin.replace('model-b', 'model-c'), 'chat', s, T0, 60_000)).toBeNull();
    expect(codec.verify(pin, 'chat', hashSessionKey('user-2'), T0, 60_000)).toBeNull();
    expect(codec.verify(pin, 'other', s, T0, 60_000)).toBeNull();
    expect(new PinCodec(Buffer.alloc(32, 8)).verify(pin, 'chat', s, T0, 60_000)).toBeNull();
    expect(codec.verify(pin, 'chat', s, T0 + 61_000, 60_000)).toBeNull();
    for (const bad of ['', '1~model-b', '2~model-b~abc~AAAAAAAAAAAAAAAA', `1~model-b~${'z'.repeat(200)}~x`, '1~~0~AAAAAAAAAAAAAAAA']) {
      expect(codec.verify(bad, 'chat', s, T0, 60_000)).toBeNull();
    }
  });

  it('StickySessions.read takes the arm of a valid echoed pin and ignores a forged one', () => {
    const sessions = new StickySessions(CFG, 'chat', ARMS, codec);
    const pin = codec.issue('chat', s, 'model-c', T0);
    expect(sessions.read(headers({ 'x-session-id': 'user-1', 'x-bandit-pin': pin }), T0)).toMatchObject({ session: s, pinnedArm: 2, freshPin: pin });
    expect(sessions.read(headers({ 'x-session-id': 'user-1', 'x-bandit-pin': pin.slice(0, -2) + 'AA' }), T0)).toMatchObject({ pinnedArm: -1 });
    // Older than half the TTL: still honoured, but re-signed on the response.
    expect(sessions.read(headers({ 'x-session-id': 'user-1', 'x-bandit-pin': pin }), T0 + 31_000)).toMatchObject({ pinnedArm: 2, freshPin: undefined });
  });

  it('a reload keeps sessions on arms that remain, by name', () => {
    const before = new StickySessions(CFG, 'chat', ARMS, codec);
    before.set(11, 0, T0);
    before.set(12, 2, T0);
    const after = new StickySessions(CFG, 'chat', ['model-c', 'model-d'], codec);
    after.adopt(before, T0 + 1);
    expect(after.get(12, T0 + 2)).toBe(0);
    expect(after.get(11, T0 + 2)).toBe(-1);
  });
});
