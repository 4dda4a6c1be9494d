import { describe, expect, it } from 'vitest';
import { NO_ARM, NO_RESPONSE } from '../../../src/tools/loadtest/defaults.js';
import { SessionPool } from '../../../src/tools/loadtest/sessions.js';
import { Observations, type Sample } from '../../../src/tools/loadtest/stats.js';

const sample = (arm: string, session: string | null, over: Partial<Sample> = {}): Sample => ({ arm, status: 200, ok: true, latencyMs: 10, ttfbMs: null, session, ...over });

describe('loadtest observations', () => {
  it('a session that sees a second arm is one violation, however many more it sees', () => {
    const o = new Observations();
    for (const [arm, s] of [['a', 's1'], ['a', 's1'], ['b', 's1'], ['c', 's1'], ['a', 's1'], ['b', 's2'], ['b', 's2']] as const) o.add(sample(arm, s));
    expect(o.violations).toBe(1);
    expect(o.sticky()).toEqual({ sessions: 2, violations: 1, examples: [{ session: 's1', arms: ['a', 'b', 'c'] }] });
  });

  it('responses without an arm (fail-open, unmatched) and without a response are not violations', () => {
    const o = new Observations();
    o.add(sample('a', 's1'));
    o.add(sample(NO_ARM, 's1'));
    o.add(sample(NO_RESPONSE, 's1', { status: 0, ok: false, error: 'ECONNRESET' }));
    expect(o.violations).toBe(0);
    expect(o.tally).toMatchObject({ completed: 3, succeeded: 2, failed: 1, noResponse: 1 });
    expect(o.tally.errors).toEqual(new Map([['ECONNRESET', 1]]));
  });

  it('per-arm shares, success and latency percentiles', () => {
    const o = new Observations();
    for (let i = 1; i <= 100; i++) o.add(sample(i <= 75 ? 'a' : 'b', null, { latencyMs: i, ok: i % 10 !== 0, ttfbMs: i / 2 }));
    const [a, b] = o.armReports(true);
    expect(a).toMatchObject({ arm: 'a', requests: 75, share: 0.75, success: 68, latency_ms: { p50: 38, p95: 72, p99: 75 }, ttfb_ms: { p50: 19 } });
    expect(b).toMatchObject({ arm: 'b', requests: 25, share: 0.25, success: 22 });
    expect(o.armReports(false)[0]!.ttfb_ms).toBeNull();
  });
});

describe('session pool', () => {
  it('draws from a bounded pool; churn replaces sessions', () => {
    const still = new SessionPool(5, 0, 1);
    const ids = new Set(Array.from({ length: 1000 }, () => still.next()));
    expect(ids.size).toBe(5);
    const churning = new SessionPool(5, 0.1, 1);
    const many = new Set(Array.from({ length: 1000 }, () => churning.next()));
    // about 100 replacements on top of the 5
    expect(many.size).toBeGreaterThan(60);
    expect(many.size).toBeLessThan(160);
    expect(new SessionPool(0, 0.5, 1).next()).toBeNull();
  });
});
