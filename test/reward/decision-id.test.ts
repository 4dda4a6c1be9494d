import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecisionIdCodec } from '../../src/reward/decision-id.js';

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
    expect(new DecisionIdCodec(key, 'r').verify(id)).toEqual({ invalid: 'bad signature' });
  });

  it('re-attributing an id to another arm breaks its signature', () => {
    const c = new DecisionIdCodec(key, 'r');
    const id = c.issue('chat', 'a', 1);
    const [payload, sig] = id.split('.') as [string, string];
    const forged = Buffer.from(payload, 'base64url').toString('utf8').replace('\u001fa\u001f', '\u001fb\u001f');
    expect(c.verify(`${Buffer.from(forged).toString('base64url')}.${sig}`)).toEqual({ invalid: 'bad signature' });
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
