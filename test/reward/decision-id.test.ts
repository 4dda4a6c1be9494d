import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecisionIdCodec, identityOf, parseDecisionId, SEQ_PER_MS, type DecisionIdFields } from '../../src/reward/decision-id.js';
import { reencodings } from '../support/reencode.js';

const SEP = '\u001f';

const key = Buffer.alloc(32, 7);

describe('DecisionIdCodec', () => {
  it('an issued id verifies and carries route, arm, time and replica', () => {
    const c = new DecisionIdCodec(key, 'replica-1');
    const id = c.issue('chat', 'model-b', 1_700_000_000_123);
    expect(c.verify(id)).toMatchObject({ route: 'chat', arm: 'model-b', time: 1_700_000_000_123, replica: 'replica-1' });
  });

  it('ids are unique within a replica and across replicas sharing a key', () => {
    const a = new DecisionIdCodec(key, 'a');
    const b = new DecisionIdCodec(key, 'b');
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      ids.add(a.issue('r', 'x', 5));
      ids.add(b.issue('r', 'x', 5));
    }
    expect(ids.size).toBe(2000);
    expect(b.verify(a.issue('r', 'x', 5))).toMatchObject({ replica: 'a' });
  });

  it('an id signed with another key is invalid', () => {
    const other = new DecisionIdCodec(Buffer.alloc(32, 8), 'r');
    const id = other.issue('chat', 'a', 1);
    expect(new DecisionIdCodec(key, 'r').verify(id)).toEqual({ invalid: 'bad_signature' });
  });

  it('re-attributing an id to another arm breaks its signature', () => {
    const c = new DecisionIdCodec(key, 'r');
    const id = c.issue('chat', 'a', 1);
    const [payload, sig] = id.split('.') as [string, string];
    const forged = Buffer.from(payload, 'base64url').toString('utf8').replace('\u001fa\u001f', '\u001fb\u001f');
    expect(c.verify(`${Buffer.from(forged).toString('base64url')}.${sig}`)).toEqual({ invalid: 'bad_signature' });
  });

  it('never throws on arbitrary input', () => {
    const c = new DecisionIdCodec(key, 'r');
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const v = c.verify(s);
        expect(typeof v).toBe('object');
      }),
      { numRuns: 500 },
    );
  });
});

describe('DecisionIdCodec: strict canonical form and identity', () => {
  it('refuses 100 re-encodings of a genuine id that a lenient decoder reads as the same bytes', () => {
    const c = new DecisionIdCodec(key, 'replica-1');
    const id = c.issue('chat', 'model-b', 1_700_000_000_123);
    const variants = reencodings(id, 100);
    expect(variants).toHaveLength(100);
    for (const v of variants) {
      // The same bytes under Node's lenient decoder: exactly the forms the old verifier took.
      const [p, s] = v.split('.') as [string, string];
      expect(Buffer.from(p.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url').equals(Buffer.from(id.split('.')[0]!, 'base64url'))).toBe(true);
      expect(Buffer.from(s, 'base64url').equals(Buffer.from(id.split('.')[1]!, 'base64url'))).toBe(true);
      expect(c.verify(v), JSON.stringify(v)).toEqual({ invalid: expect.stringMatching(/^(non_canonical|malformed)$/) });
    }
    expect(c.verify(id)).toMatchObject({ replica: 'replica-1' });
  });

  it('refuses non-canonical numbers inside a correctly signed payload (leading zeros, upper case)', () => {
    const c = new DecisionIdCodec(key, 'r');
    const sign = (text: string) => {
      const payload = Buffer.from(text, 'utf8');
      return `${payload.toString('base64url')}.${createHmac('sha256', key).update(payload).digest().subarray(0, 16).toString('base64url')}`;
    };
    expect(c.verify(sign(['1', 'chat', 'a', 'r', 'abc', '7'].join(SEP)))).toMatchObject({ seq: 7, time: parseInt('abc', 36) });
    expect(c.verify(sign(['1', 'chat', 'a', 'r', 'abc', '07'].join(SEP)))).toEqual({ invalid: 'non_canonical' });
    expect(c.verify(sign(['1', 'chat', 'a', 'r', 'ABC', '7'].join(SEP)))).toEqual({ invalid: 'non_canonical' });
    expect(c.verify(sign(['1', 'chat', 'a', 'r', 'abc', '7x!'].join(SEP)))).toEqual({ invalid: 'non_canonical' });
    expect(c.verify(sign(['2', 'chat', 'a', 'r', 'abc', '7'].join(SEP)))).toEqual({ invalid: 'malformed' });
  });

  it('identity is (replica, sequence); a restarted replica never reuses a sequence of its predecessor', () => {
    const before = new DecisionIdCodec(key, 'r', 1_700_000_000_000);
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++) ids.push(before.issue('chat', 'a', 1));
    // Restarted 1 s later (5,000 decisions in that second is far below SEQ_PER_MS per ms).
    const after = new DecisionIdCodec(key, 'r', 1_700_000_001_000);
    const seen = new Set(ids.map((id) => identityOf(before.verify(id) as DecisionIdFields)));
    for (let i = 0; i < 5000; i++) seen.add(identityOf(after.verify(after.issue('chat', 'a', 1)) as DecisionIdFields));
    expect(seen.size).toBe(10_000);
    expect(SEQ_PER_MS).toBeGreaterThanOrEqual(1000);
  });

  it('parseDecisionId reads identity without the key and never throws', () => {
    const c = new DecisionIdCodec(key, 'r9', 5);
    const p = parseDecisionId(c.issue('chat', 'a', 1));
    expect(p).toMatchObject({ fields: { replica: 'r9', seq: 5 * SEQ_PER_MS + 1 } });
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        expect(typeof parseDecisionId(s)).toBe('object');
      }),
      { numRuns: 300 },
    );
    expect(parseDecisionId(42)).toEqual({ invalid: 'malformed' });
  });
});

describe('unsigned decision ids (routes without feedback)', () => {
  it('carry the same fields and identity, and are never accepted as genuine', () => {
    const c = new DecisionIdCodec(Buffer.alloc(32, 3), 'replica-1', 1_000);
    const id = c.issue('chat', 'model-b', 1_700_000_000_123, false);
    const parsed = parseDecisionId(id);
    expect(parsed).toMatchObject({ fields: { route: 'chat', arm: 'model-b', replica: 'replica-1' } });
    expect(c.verify(id)).toEqual({ invalid: 'unsigned' });
    // A signed id of the same codec still verifies.
    expect(c.verify(c.issue('chat', 'model-b', 1))).toMatchObject({ route: 'chat' });
  });
});
