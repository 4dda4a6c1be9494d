import { describe, expect, it } from 'vitest';
import type { RewardConfig } from '../../src/config/types.js';
import { computeReward, parseRewardHeader } from '../../src/reward/compute.js';

const base: RewardConfig = {
  success: { statuses: ['2xx'], grpc_statuses: [0] },
  latency: { slo_ms: 800, measure: 'ttfb' },
  header: 'x-reward',
  weights: { success: 1, latency: 0.5, header: 1, cost: 0 },
  feedback: null,
};
const obs = { latencyMs: 100, rewardHeader: undefined as string | undefined, cost: 1, maxCost: 1 };

describe('computeReward', () => {
  it('a failed call earns nothing, however fast or cheap', () => {
    expect(computeReward(base, true, { ...obs, latencyMs: 1 })).toBe(0);
  });

  it('a fast successful call without a reward header earns 1', () => {
    expect(computeReward(base, false, obs)).toBe(1);
  });

  it('latency scores 1 below the SLO and falls linearly to 0 at twice the SLO', () => {
    const at = (ms: number) => computeReward({ ...base, weights: { success: 0, latency: 1, header: 0, cost: 0 } }, false, { ...obs, latencyMs: ms });
    expect(at(800)).toBe(1);
    expect(at(1200)).toBeCloseTo(0.5, 12);
    expect(at(1600)).toBe(0);
    expect(at(5000)).toBe(0);
  });

  it('the backend reward header joins the weighted mean when present and valid', () => {
    expect(computeReward(base, false, { ...obs, rewardHeader: '0.2' })).toBeCloseTo((1 + 0.5 + 0.2) / 2.5, 12);
    // Out of range or garbage: ignored, not clamped.
    expect(computeReward(base, false, { ...obs, rewardHeader: '7' })).toBe(1);
    expect(computeReward(base, false, { ...obs, rewardHeader: 'nan' })).toBe(1);
  });

  it('cost rewards cheaper arms relative to the most expensive arm of the route', () => {
    const cfg = { ...base, latency: null, header: null, weights: { success: 1, latency: 0, header: 0, cost: 1 } };
    expect(computeReward(cfg, false, { ...obs, cost: 0.4, maxCost: 1 })).toBeCloseTo((1 + 0.6) / 2, 12);
    expect(computeReward(cfg, false, { ...obs, cost: 1, maxCost: 1 })).toBeCloseTo(0.5, 12);
  });
});

describe('parseRewardHeader', () => {
  it('accepts only numbers in [0,1]', () => {
    expect(parseRewardHeader('0')).toBe(0);
    expect(parseRewardHeader('1')).toBe(1);
    expect(parseRewardHeader('-0.1')).toBeUndefined();
    expect(parseRewardHeader('')).toBeUndefined();
  });
});
