import { describe, expect, it } from 'vitest';
import { createPolicy } from '../../src/policy/registry.js';
import { PolicyInputBuffer, policyInputFrom } from '../../src/policy/input.js';

const ARMS = ['a', 'b'];

describe('createPolicy', () => {
  it('builds each configured type', () => {
    expect(createPolicy({ type: 'thompson', model: 'beta', prior: { alpha: 1, beta: 1 } }, ARMS).type).toBe('thompson');
    expect(createPolicy({ type: 'ucb1', c: 2 }, ARMS).type).toBe('ucb1');
    expect(createPolicy({ type: 'epsilon_greedy', epsilon: 0.1, decay: 0 }, ARMS).type).toBe('epsilon_greedy');
    expect(createPolicy({ type: 'static', weights: { a: 1 } }, ARMS).type).toBe('static');
    expect(createPolicy({ type: 'fixed', arm: 'b' }, ARMS).type).toBe('fixed');
  });
});

describe('PolicyInputBuffer', () => {
  it('is refilled in place with reset + push, and rejects overflow', () => {
    const buf = new PolicyInputBuffer(2);
    const n = buf.n;
    buf.reset(7).push(1, { n: 3, sum: 2, sumSq: 2 }).pushValues(0, 1, 1, 1);
    expect(buf.k).toBe(2);
    expect(buf.total).toBe(7);
    expect(Array.from(buf.armIndex)).toEqual([1, 0]);
    expect(() => buf.pushValues(0, 0, 0, 0)).toThrow(RangeError);
    buf.reset();
    expect(buf.k).toBe(0);
    expect(buf.n).toBe(n); // same buffers reused
  });

  it('policyInputFrom defaults total to the sum of n and armIndex to the position', () => {
    const input = policyInputFrom([{ n: 2, sum: 1, sumSq: 1 }, { n: 3.5, sum: 1, sumSq: 1 }]);
    expect(input.total).toBe(5.5);
    expect(Array.from(input.armIndex)).toEqual([0, 1]);
  });
});
