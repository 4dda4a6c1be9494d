import { describe, expect, it } from 'vitest';
import { classifyExchange, compileStatusMatcher, compileSuccessRules, scoredLatencyMs, simpleExchange, type Exchange } from '../../src/reward/outcome.js';

const rules = compileSuccessRules({
  success: { statuses: ['2xx'], grpc_statuses: [0, 5] },
  latency: null,
  header: null,
  weights: { success: 1, latency: 0, header: 0, cost: 0 },
  feedback: null,
});
const ex = (over: Partial<Exchange>): Exchange => ({ ...simpleExchange(200, 50), ...over });

describe('classifyExchange', () => {
  it('a complete 2xx with no gRPC status, or a gRPC status in the success set, succeeds', () => {
    expect(classifyExchange(rules, ex({}))).toBe('');
    expect(classifyExchange(rules, ex({ grpcStatus: 0 }))).toBe('');
    expect(classifyExchange(rules, ex({ grpcStatus: 5 }))).toBe('');
  });

  it('HTTP 200 with a gRPC status outside the success set fails on the gRPC status', () => {
    expect(classifyExchange(rules, ex({ grpcStatus: 13 }))).toBe('grpc_status');
  });

  it('a status outside the success set, or any 5xx, fails on the status', () => {
    expect(classifyExchange(rules, ex({ status: 404 }))).toBe('status');
    const all = compileSuccessRules({ success: { statuses: ['2xx', '5xx'], grpc_statuses: [0] }, latency: null, header: null, weights: { success: 1, latency: 0, header: 0, cost: 0 }, feedback: null });
    expect(classifyExchange(all, ex({ status: 503 }))).toBe('status');
  });

  it('how the exchange ended wins over a 200 status: timeouts, resets, connect failures, no response', () => {
    expect(classifyExchange(rules, ex({ end: 'reset' }))).toBe('reset');
    expect(classifyExchange(rules, ex({ end: 'timeout', status: 504 }))).toBe('timeout');
    expect(classifyExchange(rules, ex({ end: 'connect_failure', status: 503 }))).toBe('connect_failure');
    expect(classifyExchange(rules, ex({ end: 'no_response', status: 0 }))).toBe('no_response');
  });

  it('an upstream failure flag fails a complete exchange; a client-side flag alone does not', () => {
    expect(classifyExchange(rules, ex({ flags: ['URX'] }))).toBe('upstream_flag');
    expect(classifyExchange(rules, ex({ flags: ['DC'] }))).toBe('');
  });
});

describe('scoredLatencyMs', () => {
  it('scores time to first byte or total, and total when no byte came', () => {
    const e = ex({ ttfbMs: 20, totalMs: 900 });
    expect(scoredLatencyMs('ttfb', e)).toBe(20);
    expect(scoredLatencyMs('total', e)).toBe(900);
    expect(scoredLatencyMs('ttfb', ex({ ttfbMs: undefined, totalMs: 1000 }))).toBe(1000);
  });
});

describe('status patterns', () => {
  it('match classes and exact codes', () => {
    const m = compileStatusMatcher(['2xx', '404']);
    expect([200, 204, 299, 404].every(m)).toBe(true);
    expect([199, 300, 403, 500].some(m)).toBe(false);
  });
});
