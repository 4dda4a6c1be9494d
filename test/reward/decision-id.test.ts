import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecisionIdCodec, identityOf, parseDecisionId, SEQ_PER_MS, type DecisionIdFields } from '../../src/reward/decision-id.js';
import type { Result } from '../../src/util/errors.js';
import { reencodings } from '../support/reencode.js';

function fieldsOf(r: Result<DecisionIdFields, unknown>): DecisionIdFields {
  if (!r.ok) throw new Error('expected a genuine id');
  return r.value;
}

const SEP = '\u001f';

const key = Buffer.alloc(32, 7);

describe('DecisionIdCodec', () => {
  it('an issued id verifies and carries route, arm, time and replica', () => {
    const c = new DecisionIdCodec(key, 'replica-1');
    const id = c.issue('chat', 'model-b', 1_700_000_000_123);
    expect(c.verify(id)).toMatchObject({ ok: true, value: { route: 'chat', arm: 'model-b', time: 1_700_000_000_123, replica: 'replica-1' } });
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
    expect(b.verify(a.issue('r', 'x', 5))).toMatchObject({ ok: true, value: { replica: 'a' } });
  });

  it('an id signed with another key is invalid', () => {
    const other = new DecisionIdCodec(Buffer.alloc(32, 8), 'r');
    const id = other.issue('chat', 'a', 1);
    expect(new DecisionIdCodec(key, 'r').verify(id)).toMatchObject({ ok: false, error: { code: 'EB_DECISION_ID_INVALID', reason: 'bad_signature' } });
  });

  it('re-attributing an id to another arm breaks its signature', () => {
    const c = new DecisionIdCodec(key, 'r');
    const id = c.issue('chat', 'a', 1);
    const [payload, sig] = id.split('.') as [string, string];
    const forged = Buffer.from(payload, 'base64url').toString('utf8').replace('\u001fa\u001f', '\u001fb\u001f');
    expect(c.verify(`${Buffer.from(forged).toString('base64url')}.${sig}`)).toMatchObject({ ok: false, error: { code: 'EB_DECISION_ID_INVALID', reason: 'bad_signature' } });
  });

  it('never throws on arbitrary input', () => {
    const c = new DecisionIdCodec(key, 'r');
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const v = c.verify(s);
        expect(v.ok || v.error.code === 'EB_DECISION_ID_INVALID').toBe(true);
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
      expect(c.verify(v), JSON.stringify(v)).toMatchObject({ ok: false, error: { code: 'EB_DECISION_ID_INVALID', reason: expect.stringMatching(/^(non_canonical|malformed)$/) } });
    }
    expect(c.verify(id)).toMatchObject({ ok: true, value: { replica: 'replica-1' } });
  });

  it('refuses non-canonical numbers inside a correctly signed payload (leading zeros, upper case)', () => {
    const c = new DecisionIdCodec(key, 'r');
    const sign = (text: string) => {
      const payload = Buffer.from(text, 'utf8');
      return `${payload.toString('base64url')}.${createHmac('sha256', key).update(payload).digest().subarray(0, 16).toString('base64url')}`;
    };
    expect(c.verify(sign(['1', 'chat', 'a', 'r', 'abc', '7'].join(SEP)))).toMatchObject({ ok: true, value: { seq: 7, time: parseInt('abc', 36) } });
    expect(c.verify(sign(['1', 'chat', 'a', 'r', 'abc', '07'].join(SEP)))).toMatchObject({ ok: false, error: { code: 'EB_DECISION_ID_INVALID', reason: 'non_canonical' } });
    expect(c.verify(sign(['1', 'chat', 'a', 'r', 'ABC', '7'].join(SEP)))).toMatchObject({ ok: false, error: { code: 'EB_DECISION_ID_INVALID', reason: 'non_canonical' } });
    expect(c.verify(sign(['1', 'chat', 'a', 'r', 'abc', '7x!'].join(SEP)))).toMatchObject({ ok: false, error: { code: 'EB_DECISION_ID_INVALID', reason: 'non_canonical' } });
    expect(c.verify(sign(['2', 'chat', 'a', 'r', 'abc', '7'].join(SEP)))).toMatchObject({ ok: false, error: { code: 'EB_DECISION_ID_INVALID', reason: 'malformed' } });
  });

  it('identity is (replica, sequence); a restarted replica never reuses a sequence of its predecessor', () => {
    const before = new DecisionIdCodec(key, 'r', 1_700_000_000_000);
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++) ids.push(before.issue('chat', 'a', 1));
    // Restarted 1 s later (5,000 decisions in that second is far below SEQ_PER_MS per ms).
    const after = new DecisionIdCodec(key, 'r', 1_700_000_001_000);
    const seen = new Set(ids.map((id) => identityOf(fieldsOf(before.verify(id)))));
    for (let i = 0; i < 5000; i++) seen.add(identityOf(fieldsOf(after.verify(after.issue('chat', 'a', 1)))));
    expect(seen.size).toBe(10_000);
    expect(SEQ_PER_MS).toBeGreaterThanOrEqual(1000);
  });

  it('parseDecisionId reads identity without the key and never throws', () => {
    const c = new DecisionIdCodec(key, 'r9', 5);
    const p = parseDecisionId(c.issue('chat', 'a', 1));
    expect(p).toMatchObject({ ok: true, value: { fields: { replica: 'r9', seq: 5 * SEQ_PER_MS + 1 } } });
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = parseDecisionId(s);
        expect(r.ok || r.error.code === 'EB_DECISION_ID_INVALID').toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(parseDecisionId(42)).toMatchObject({ ok: false, error: { code: 'EB_DECISION_ID_INVALID', reason: 'malformed' } });
  });
});

describe('unsigned decision ids (routes without feedback)', () => {
  it('carry the same fields and identity, and are never accepted as genuine', () => {
    const c = new DecisionIdCodec(Buffer.alloc(32, 3), 'replica-1', 1_000);
    const id = c.issue('chat', 'model-b', 1_700_000_000_123, false);
    const parsed = parseDecisionId(id);
    expect(parsed).toMatchObject({ ok: true, value: { fields: { route: 'chat', arm: 'model-b', replica: 'replica-1' } } });
    expect(c.verify(id)).toMatchObject({ ok: false, error: { code: 'EB_DECISION_ID_INVALID', reason: 'unsigned' } });
    // A signed id of the same codec still verifies.
    expect(c.verify(c.issue('chat', 'model-b', 1))).toMatchObject({ ok: true, value: { route: 'chat' } });
  });
});
