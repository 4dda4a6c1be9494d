import { describe, expect, it } from 'vitest';
import { createAccumulator } from '../../src/state/accumulator.js';

const read = (acc: ReturnType<typeof createAccumulator>, arm: number) => acc.read(arm, { n: 0, sum: 0, sumSq: 0 });

describe('RouteAccumulator', () => {
  it('without drift keeps plain count, sum and sum of squares', () => {
    const acc = createAccumulator(2, { mode: 'none' });
    acc.add(0, 1);
    acc.add(0, 0.5);
    acc.add(1, 0);
    expect(read(acc, 0)).toEqual({ n: 2, sum: 1.5, sumSq: 1.25 });
    expect(read(acc, 1)).toEqual({ n: 1, sum: 0, sumSq: 0 });
  });

  it('discount multiplies every arm by gamma on each observation of the route', () => {
    const acc = createAccumulator(2, { mode: 'discount', gamma: 0.5 });
    acc.add(0, 1); // arm0: n=1
    acc.add(1, 1); // arm0: n=0.5, arm1: n=1
    acc.add(1, 0); // arm0: 0.25, arm1: 1.5
    expect(read(acc, 0).n).toBeCloseTo(0.25, 12);
    expect(read(acc, 0).sum).toBeCloseTo(0.25, 12);
    expect(read(acc, 1).n).toBeCloseTo(1.5, 12);
    expect(read(acc, 1).sum).toBeCloseTo(0.5, 12);
  });

  it('discount stays finite over millions of observations (lazy scale is renormalized)', () => {
    const acc = createAccumulator(3, { mode: 'discount', gamma: 0.99 });
    for (let i = 0; i < 200_000; i++) acc.add(i % 3, 1);
    const total = [0, 1, 2].reduce((t, a) => t + read(acc, a).n, 0);
    // Steady state of a discounted count is 1/(1-gamma).
    expect(total).toBeCloseTo(100, 6);
  });

  it('window counts only the last `size` observations of the route', () => {
    const acc = createAccumulator(2, { mode: 'window', size: 3 });
    acc.add(0, 1);
    acc.add(0, 1);
    acc.add(1, 0);
    acc.add(1, 1); // evicts the first arm-0 observation
    expect(read(acc, 0)).toEqual({ n: 1, sum: 1, sumSq: 1 });
    expect(read(acc, 1)).toEqual({ n: 2, sum: 1, sumSq: 1 });
  });

  it('window stays exact over many evictions (periodic recomputation)', () => {
    const acc = createAccumulator(2, { mode: 'window', size: 10 });
    for (let i = 0; i < 10_000; i++) acc.add(i % 2, 0.1);
    expect(read(acc, 0).n).toBe(5);
    expect(read(acc, 0).sum).toBeCloseTo(0.5, 12);
  });

  it('a window restored from sums fades that carried evidence as new observations arrive', () => {
    const acc = createAccumulator(1, { mode: 'window', size: 100 });
    acc.load([{ n: 100, sum: 100, sumSq: 100 }]);
    expect(read(acc, 0).n).toBe(100);
    for (let i = 0; i < 500; i++) acc.add(0, 0);
    const s = read(acc, 0);
    // 100 fresh zeros plus 100 * (0.99^500) ≈ 0.66 carried.
    expect(s.n).toBeGreaterThan(100);
    expect(s.n).toBeLessThan(101);
    expect(s.sum).toBeLessThan(1);
  });
});
