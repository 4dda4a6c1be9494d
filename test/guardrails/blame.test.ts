import { describe, expect, it } from 'vitest';
import { blame, CLIENT_GRPC_CODES, isArmError, SERVER_GRPC_CODES } from '../../src/guardrails/blame.js';
import { ROUTE, guardConfig, lognormal, makeRig, simulate, totalTrips } from '../support/guardrails-rig.js';
import { createRng } from '../../src/util/rng.js';

const DEFAULT = { count_client_errors: false };
const OPT_IN = { count_client_errors: true };

describe('blame: whose fault an outcome is', () => {
  it.each([
    [200, 'none'],
    [204, 'none'],
    [302, 'none'],
    [400, 'client'],
    [404, 'client'],
    [413, 'client'],
    [429, 'client'],
    [500, 'arm'],
    [503, 'arm'],
    [504, 'arm'],
    [0, 'arm'],
    [99, 'arm'],
    [600, 'arm'],
  ] as const)('HTTP %i is %s', (status, who) => {
    expect(blame({ status })).toBe(who);
  });

  it('a gRPC status in trailers decides a 200: server codes blame the arm, client codes the caller', () => {
    for (const g of SERVER_GRPC_CODES) expect(blame({ status: 200, grpcStatus: g })).toBe('arm');
    for (const g of CLIENT_GRPC_CODES) expect(blame({ status: 200, grpcStatus: g })).toBe('client');
    expect(blame({ status: 200, grpcStatus: 0 })).toBe('none');
    expect(blame({ status: 200, grpcStatus: null })).toBe('none');
    expect(blame({ status: 200, grpcStatus: 42 })).toBe('arm');
    // Codes 1..16 are each classified exactly once.
    for (let g = 1; g <= 16; g++) expect(SERVER_GRPC_CODES.has(g) !== CLIENT_GRPC_CODES.has(g)).toBe(true);
  });

  it('client errors are arm errors only when the route opts in', () => {
    expect(isArmError({ status: 413 }, DEFAULT)).toBe(false);
    expect(isArmError({ status: 413 }, OPT_IN)).toBe(true);
    expect(isArmError({ status: 200, grpcStatus: 3 }, DEFAULT)).toBe(false);
    expect(isArmError({ status: 200, grpcStatus: 3 }, OPT_IN)).toBe(true);
    expect(isArmError({ status: 502 }, DEFAULT)).toBe(true);
    expect(isArmError({ status: 200 }, OPT_IN)).toBe(false);
  });
});

describe('guardrails and client errors (simulated time)', () => {
  const healthy = { errorRate: 0.01, latency: lognormal(50, 0.2) };
  // Half of every arm's requests come back 413: an abusive client, not a sick backend.
  const flood = { errorRate: 0.5, errorStatus: 413, latency: lognormal(50, 0.2) };

  it('a flood of 413s on every arm quarantines nothing by default', async () => {
    const rig = makeRig(guardConfig({ arms: ['a', 'b', 'c'] }));
    simulate(rig, { rps: 200, durationMs: 20_000, behaviours: () => healthy, rng: createRng(3) });
    simulate(rig, { rps: 200, durationMs: 20_000, behaviours: () => flood, rng: createRng(4) });
    expect(await totalTrips(rig.metrics)).toBe(0);
    for (const arm of ['a', 'b', 'c']) expect(rig.guardrails.phase(ROUTE, arm)).toBe('active');
  });

  it('with count_client_errors the same flood trips the guardrail', async () => {
    const rig = makeRig(guardConfig({ arms: ['a', 'b', 'c'], guardrails: '{ count_client_errors: true }' }));
    simulate(rig, { rps: 200, durationMs: 20_000, behaviours: () => healthy, rng: createRng(3) });
    simulate(rig, { rps: 200, durationMs: 20_000, behaviours: (arm) => (arm === 'b' ? flood : healthy), rng: createRng(4) });
    expect(await totalTrips(rig.metrics)).toBeGreaterThan(0);
    expect(rig.guardrails.phase(ROUTE, 'b')).not.toBe('active');
  });
});
