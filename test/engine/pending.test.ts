import { describe, expect, it } from 'vitest';
import { PendingDecisions } from '../../src/engine/pending.js';

describe('PendingDecisions', () => {
  it('hands each decision out once', () => {
    const p = new PendingDecisions<{ startedAt: number }>(10, 1000);
    const d = { startedAt: 0 };
    p.add('a', d, 0);
    expect(p.take('a')).toBe(d);
    expect(p.take('a')).toBeUndefined();
  });

  it('stays bounded: the oldest is dropped past the cap, old ones past the TTL, each counted', () => {
    const drops: string[] = [];
    const p = new PendingDecisions<{ startedAt: number; id: string }>(3, 1000, (d, why) => drops.push(`${d.id}:${why}`));
    for (let i = 0; i < 5; i++) p.add(`d${i}`, { startedAt: i, id: `d${i}` }, i);
    expect(p.size).toBe(3);
    expect(drops).toEqual(['d0:overflow', 'd1:overflow']);
    p.expire(1003);
    expect(drops.slice(2)).toEqual(['d2:expired', 'd3:expired']);
    expect(p.size).toBe(1);
    expect(p.dropped).toBe(4);
    // 100k adds with a cap of 3: memory does not grow with decisions.
    for (let i = 0; i < 100_000; i++) p.add(`x${i}`, { startedAt: 2000 + i / 1000, id: 'x' }, 2000 + i / 1000);
    expect(p.size).toBe(3);
  });
});
