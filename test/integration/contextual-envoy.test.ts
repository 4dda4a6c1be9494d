/**
 * A contextual route behind real Envoy: three backends whose quality depends
 * on the tenant (x-tenant header); linear Thompson learns each tenant's own
 * best backend from real responses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/admin-stack.js';
import { runLoad } from '../support/load.js';
import { freePort } from '../support/ports.js';

const TENANTS = ['gold', 'silver', 'bronze'] as const;
/** Error rate per backend and tenant: each tenant has one good backend (5 % errors), the others fail 60–70 %. */
const ERRORS: Record<string, Record<string, number>> = {
  model_a: { gold: 0.05, silver: 0.7, bronze: 0.6 },
  model_b: { gold: 0.6, silver: 0.05, bronze: 0.7 },
  model_c: { gold: 0.7, silver: 0.6, bronze: 0.05 },
};
const BEST: Record<string, string> = { gold: 'model_a', silver: 'model_b', bronze: 'model_c' };

const config = (extProcPort: number) => (dir: string) => `
replica_id: ctx-1
listen: { ext_proc: 127.0.0.1:${extProcPort}, admin: 127.0.0.1:0 }
decision_ids: { secret_file: ${dir}/key }
routes:
  - name: ctx
    match: { path_prefix: /ctx }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    policy: { type: lints, min_share: 0.01 }
    features:
      - { name: tenant, header: x-tenant, type: categorical, buckets: 16 }
    sticky: null
    guardrails: null
`;

describe('contextual routing behind real Envoy', () => {
  let stack: Stack;

  beforeAll(async () => {
    const extProcPort = await freePort();
    stack = await startStack({
      yaml: config(extProcPort),
      backends: Object.fromEntries(Object.entries(ERRORS).map(([name, rates]) => [name, { errorRate: 0.5, errorRateByHeader: { header: 'x-tenant', rates } }])),
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('linear Thompson routes each header-identified tenant to its own best backend', async () => {
    const rs = await runLoad({
      url: `http://127.0.0.1:${stack.envoy.port}/ctx/infer`,
      total: 1500,
      concurrency: 8,
      headers: (i) => ({ 'x-tenant': TENANTS[i % 3]! }),
      headersOfInterest: ['x-backend', 'x-bandit-arm'],
    });
    expect(rs.every((r) => r.status === 200 || r.status === 500)).toBe(true);
    // The arm the client was told is the backend that answered. A stream the sidecar is too loaded to answer
    // in time fails open to the default route (no x-bandit-arm; envoy.yaml): allowed, but rare.
    const decided = rs.filter((r) => r.headers['x-bandit-arm'] !== undefined);
    expect(decided.length).toBeGreaterThan(0.95 * rs.length);
    expect(decided.every((r) => r.headers['x-bandit-arm']?.replace('-', '_') === r.headers['x-backend'])).toBe(true);
    const tail = rs.slice(1000);
    for (const [t, tenant] of TENANTS.entries()) {
      const mine = tail.filter((_, i) => (1000 + i) % 3 === t);
      const share = mine.filter((r) => r.headers['x-backend'] === BEST[tenant]).length / mine.length;
      // An even split would give each tenant's best backend a third; a context-free policy could give at most one tenant its best.
      expect(share, tenant).toBeGreaterThan(0.8);
    }
  }, 120_000);
});
