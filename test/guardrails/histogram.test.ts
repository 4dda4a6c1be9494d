import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BINS, LatencyHistogram, MAX_RELATIVE_ERROR, MIN_MS, binOf, valueOf } from '../../src/guardrails/histogram.js';
import { createRng } from '../../src/util/rng.js';

function exactQuantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(1, Math.ceil(q * s.length)) - 1]!;
}

describe('LatencyHistogram', () => {
  it('bins are monotonic and every value lies within the error bound of its bin value', () => {
    fc.assert(
      fc.property(fc.double({ min: MIN_MS, max: 1e6, noNaN: true }), fc.double({ min: MIN_MS, max: 1e6, noNaN: true }), (x, y) => {
        if (x <= y) expect(binOf(x)).toBeLessThanOrEqual(binOf(y));
        expect(Math.abs(valueOf(binOf(x)) - x) / x).toBeLessThanOrEqual(MAX_RELATIVE_ERROR + 1e-12);
      }),
    );
    expect(binOf(0)).toBe(0);
    expect(binOf(-5)).toBe(0);
    expect(binOf(Number.NaN)).toBe(0);
    expect(binOf(1e12)).toBe(BINS - 1);
  });

  it('p95 of seeded lognormal, bimodal and uniform samples is within 3.125% of the exact nearest-rank p95', () => {
    const rng = createRng(42);
    const gens: Record<string, () => number> = {
      lognormal: () => 50 * Math.exp(0.6 * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next())),
      bimodal: () => (rng.next() < 0.9 ? 40 + rng.next() * 10 : 1500 + rng.next() * 200),
      uniform: () => 0.5 + rng.next() * 5000,
    };
    for (const [name, gen] of Object.entries(gens)) {
      for (const n of [30, 200, 5000]) {
        const xs = Array.from({ length: n }, gen);
        const h = new LatencyHistogram();
        for (const x of xs) h.add(x);
        for (const q of [0.5, 0.95, 0.99]) {
          const exact = exactQuantile(xs, q);
          const rel = Math.abs(h.quantile(q) - exact) / exact;
          expect(rel, `${name} n=${n} q=${q}`).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
        }
      }
    }
  });

  it('adds and subtracts bin by bin (sliding), and is empty → NaN', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    expect(a.quantile(0.95)).toBeNaN();
    for (let i = 1; i <= 100; i++) a.add(i);
    for (let i = 1000; i <= 1100; i++) b.add(i);
    const sum = new LatencyHistogram();
    sum.addAll(a);
    sum.addAll(b);
    expect(sum.count).toBe(201);
    expect(sum.quantile(0.95)).toBeGreaterThan(1000);
    sum.subtractAll(b);
    expect(sum.count).toBe(100);
    expect(Array.from(sum.bins)).toEqual(Array.from(a.bins));
  });
});
