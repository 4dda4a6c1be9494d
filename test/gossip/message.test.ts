import { describe, expect, it } from 'vitest';
import { computeMac, encodeMessage, verifyMessage } from '../../src/gossip/message.js';
import { ErrorCodes } from '../../src/util/errors.js';

const SECRET = Buffer.from('0123456789abcdef-secret');
const SNAP = { slots: { r1: { replica: 'r1', version: 3, updated_at: 5, routes: { chat: { a: { n: 2, sum: 1, sumSq: 1 } } } } } };

describe('gossip message authentication', () => {
  it('round-trips a signed message', () => {
    const m = encodeMessage('push', 'r1', SNAP, 1000, SECRET);
    const v = verifyMessage(m, 'push', SECRET, 1000);
    // Parsing fills in the (empty) records and tombstones.
    expect(v.ok && v.value.snapshot).toEqual({ ...SNAP, records: {}, tombstones: {} });
    expect(m.mac).toEqual(computeMac(SECRET, 'push', 'r1', 1000, m.snapshot));
  });

  it('rejects a bad MAC, a wrong secret, a tampered payload or sender with EB_GOSSIP_AUTH', () => {
    const m = encodeMessage('push', 'r1', SNAP, 1000, SECRET);
    const cases = [
      { ...m, mac: Buffer.alloc(32) },
      { ...m, mac: Buffer.alloc(0) },
      encodeMessage('push', 'r1', SNAP, 1000, Buffer.from('another-secret-of-16+')),
      { ...m, snapshot: Buffer.from(m.snapshot.toString().replace('"n":2', '"n":9')) },
      { ...m, sender: 'r2' },
      { ...m, time_ms: 1001 },
    ];
    for (const c of cases) {
      const v = verifyMessage(c, 'push', SECRET, 1000);
      expect(v.ok).toBe(false);
      if (!v.ok) {
        expect(v.error.code).toBe(ErrorCodes.GOSSIP_AUTH);
        expect(v.error.reason).toBe('auth');
      }
    }
  });

  it('rejects a reflected message (a pull replayed as a push)', () => {
    const answer = encodeMessage('pull', 'r1', SNAP, 1000, SECRET);
    const v = verifyMessage({ ...answer, kind: 'push' }, 'push', SECRET, 1000);
    expect(v.ok).toBe(false);
    expect(verifyMessage(answer, 'push', SECRET, 1000).ok).toBe(false);
  });

  it('rejects messages too old or too far in the future (replay window)', () => {
    const m = encodeMessage('push', 'r1', SNAP, 1000, SECRET);
    expect(verifyMessage(m, 'push', SECRET, 1000 + 30_000).ok).toBe(true);
    for (const now of [1000 + 30_001, 1000 - 30_001]) {
      const v = verifyMessage(m, 'push', SECRET, now);
      expect(!v.ok && v.error.reason).toBe('stale');
    }
  });

  it('never throws on garbage and validates the snapshot', () => {
    const inputs: unknown[] = [null, 42, 'x', {}, { sender: 'r', time_ms: 1, snapshot: 'not a buffer', kind: 'push' }];
    for (const raw of inputs) expect(verifyMessage(raw, 'push', SECRET, 1).ok).toBe(false);
    const notJson = { sender: 'r1', time_ms: 1, kind: 'push', snapshot: Buffer.from('{'), mac: Buffer.alloc(0) };
    const v1 = verifyMessage(notJson, 'push', null, 1);
    expect(!v1.ok && v1.error.reason).toBe('invalid');
    const bad = encodeMessage('push', 'r1', { slots: { r1: { replica: 'r1', version: -1 } } } as never, 1, SECRET);
    const v2 = verifyMessage(bad, 'push', SECRET, 1);
    expect(!v2.ok && v2.error.message).toMatch(/version/);
  });

  it('without a secret (loopback mesh) accepts unsigned messages', () => {
    const m = encodeMessage('push', 'r1', SNAP, 1000, null);
    expect(m.mac.length).toBe(0);
    expect(verifyMessage(m, 'push', null, 1000).ok).toBe(true);
    // …but a member holding a secret refuses them.
    expect(verifyMessage(m, 'push', SECRET, 1000).ok).toBe(false);
  });
});
