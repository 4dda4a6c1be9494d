import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlidingWindow, bucketMsFor } from '../../src/guardrails/window.js';
import { Tally } from '../../src/guardrails/tally.js';

describe('SlidingWindow', () => {
  it('bucket width is 1 s, narrower for short windows', () => {
    expect(bucketMsFor(10_000)).toBe(1000);
    expect(bucketMsFor(2_000)).toBe(500);
    expect(new SlidingWindow(10_000).buckets).toBe(10);
  });

  it('keeps the current bucket and the buckets-1 before it; expired buckets go to onExpire oldest first', () => {
    const expired: Array<[number, number]> = [];
    const w = new SlidingWindow(4000, (t: Tally) => expired.push([t.count, t.errors]));
    w.record(0, false, 10); // bucket 0
    w.record(1500, true, 20); // bucket 1
    w.record(1600, true, 20);
    w.record(3999, false, 30); // bucket 3
    expect(w.total.count).toBe(4);
    expect(w.total.errors).toBe(2);
    w.advance(4000); // bucket 4: bucket 0 leaves
    expect(w.total.count).toBe(3);
    expect(expired).toEqual([[1, 0]]);
    w.advance(5000); // bucket 1 leaves
    expect(w.total.count).toBe(1);
    expect(expired).toEqual([[1, 0], [2, 2]]);
    w.advance(100_000); // everything leaves
    expect(w.total.count).toBe(0);
    expect(expired).toEqual([[1, 0], [2, 2], [1, 0]]);
    w.record(99_000, true, 5); // clock stepped back: lands in the current bucket
    expect(w.total.count).toBe(1);
  });

  it('recent() takes at least minBuckets newest buckets, more until minSamples, at most the window', () => {
    const w = new SlidingWindow(5000);
    const out = new Tally();
    for (let b = 0; b < 5; b++) for (let i = 0; i < 10; i++) w.record(b * 1000 + i, b === 4, 10);
    expect(w.recent(1, 2, out).count).toBe(20);
    expect(w.recent(35, 2, out).count).toBe(40);
    expect(w.recent(1000, 2, out).count).toBe(50);
    expect(w.recent(1, 1, out)).toMatchObject({ count: 10, errors: 10 });
    expect(new SlidingWindow(5000).recent(1, 2, out).count).toBe(0);
  });

  it('clear() forgets without teaching the baseline', () => {
    let calls = 0;
    const w = new SlidingWindow(2000, () => calls++);
    for (let t = 0; t < 1000; t += 10) w.record(t, t % 20 === 0, 10);
    w.clear();
    w.advance(10_000);
    expect(calls).toBe(0);
    expect(w.total.count).toBe(0);
  });

  it('matches a naive list of samples for random event sequences', () => {
    const windowMs = 3000;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2500 }), fc.boolean(), fc.integer({ min: 1, max: 5000 })), { maxLength: 200 }), (steps) => {
        const w = new SlidingWindow(windowMs);
        const bucket = w.bucketMs;
        const kept: Array<{ t: number; err: boolean; lat: number }> = [];
        let t = 0;
        for (const [dt, err, lat] of steps) {
          t += dt;
          w.record(t, err, lat);
          kept.push({ t, err, lat });
          const head = Math.floor(t / bucket);
          const live = kept.filter((s) => Math.floor(s.t / bucket) > head - w.buckets);
          expect(w.total.count).toBe(live.length);
          expect(w.total.errors).toBe(live.filter((s) => s.err).length);
          expect(w.total.latency.count).toBe(live.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});
