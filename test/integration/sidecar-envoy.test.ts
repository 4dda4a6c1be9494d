/**
 * The sidecar behind real Envoy, real gRPC and three real HTTP backends that
 * differ in success rate (issue: "Route real Envoy traffic with a bandit").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { startStack, type Stack } from '../support/admin-stack.js';
import { runLoad } from '../support/load.js';
import { freePort } from '../support/ports.js';

const INTEREST = ['x-backend', 'x-bandit-arm', 'x-bandit-decision-id'] as const;

function config(extProcPort: number) {
  return (dir: string) => `
replica_id: it-1
listen: { ext_proc: 127.0.0.1:${extProcPort}, admin: 127.0.0.1:0 }
decision_ids: { secret_file: ${dir}/key }
routes:
  - name: learn
    match: { path_prefix: /learn }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    default_arm: model-a
    policy: { type: thompson, min_share: 0.01 }
    guardrails: null
  - name: split
    match: { path_prefix: /split }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    policy: { type: static, weights: { model-a: 0.6, model-b: 0.3, model-c: 0.1 } }
    guardrails: null
  - name: only-a
    match: { path_prefix: /only-a }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-c, cluster: model_c }
    policy: { type: static, weights: { model-a: 1, model-c: 0 } }
    guardrails: null
`;
}

describe('envoy-bandit behind real Envoy', () => {
  let stack: Stack;
  let extProcPort: number;
  const restarted: Sidecar[] = [];

  beforeAll(async () => {
    extProcPort = await freePort();
    stack = await startStack({
      yaml: config(extProcPort),
      // model_b is clearly the best backend; all answer fast; failures are 500s.
      backends: { model_a: { errorRate: 0.3 }, model_b: { errorRate: 0.02 }, model_c: { errorRate: 0.5 } },
    });
  });
  afterAll(async () => {
    for (const s of restarted) await s.stop(500);
    await stack?.stop();
  });

  const load = (path: string, total: number, headers: (i: number) => Record<string, string> = () => ({}), concurrency = 8) =>
    runLoad({ url: `http://127.0.0.1:${stack.envoy.port}${path}`, total, concurrency, headers, headersOfInterest: INTEREST });
  const share = (rs: { headers: Record<string, string | undefined> }[], backend: string) => rs.filter((r) => r.headers['x-backend'] === backend).length / rs.length;

  it('Thompson sends most of the last third of 3,000 requests to the best backend', async () => {
    const rs = await load('/learn', 3000);
    expect(rs.every((r) => r.status === 200 || r.status === 500)).toBe(true);
    expect(rs.every((r) => r.headers['x-bandit-arm'] !== undefined && r.headers['x-bandit-decision-id'] !== undefined)).toBe(true);
    const lastThird = rs.slice(2000);
    // An even split would give model_b a third; with a 0.28 success gap Thompson concentrates far beyond that.
    expect(share(lastThird, 'model_b')).toBeGreaterThan(0.75);
    // The arm the client was told matches the backend that answered.
    expect(rs.every((r) => r.headers['x-bandit-arm']!.replace('-', '_') === r.headers['x-backend'])).toBe(true);
  });

  it('a static split matches its weights within 4 binomial standard deviations over 3,000 requests', async () => {
    const n = 3000;
    const rs = await load('/split', n);
    for (const [backend, w] of [['model_a', 0.6], ['model_b', 0.3], ['model_c', 0.1]] as const) {
      const tolerance = 4 * Math.sqrt((w * (1 - w)) / n); // 0.036, 0.033, 0.022
      expect(Math.abs(share(rs, backend) - w)).toBeLessThan(tolerance);
    }
  });

  it('100 sessions of 10 requests each with x-session-id: every session sees exactly one arm', async () => {
    // Requests are interleaved (session i % 100) so learning moves the weights between a session's requests.
    const rs = await load('/learn', 1000, (i) => ({ 'x-session-id': `session-${i % 100}` }));
    const armsBySession = new Map<number, Set<string>>();
    rs.forEach((r, i) => {
      const s = armsBySession.get(i % 100) ?? new Set<string>();
      s.add(r.headers['x-backend'] ?? 'none');
      armsBySession.set(i % 100, s);
    });
    expect(armsBySession.size).toBe(100);
    expect([...armsBySession.values()].filter((arms) => arms.size !== 1)).toEqual([]);
  });

  it('a client that sends its own x-bandit-cluster does not pick the arm', async () => {
    const rs = await load('/only-a', 200, () => ({ 'x-bandit-cluster': 'model_c' }));
    expect(share(rs, 'model_a')).toBe(1);
    expect(rs.every((r) => r.headers['x-bandit-arm'] === 'model-a')).toBe(true);
  });

  it('client-sent x-reward, x-bandit-arm and x-bandit-decision-id never reach a backend (a backend could echo them)', async () => {
    const forged = { 'x-reward': '1', 'x-bandit-arm': 'model-c', 'x-bandit-decision-id': 'forged' };
    const rs = await load('/learn', 30, () => forged);
    const rs2 = await load('/elsewhere', 10, () => forged);
    expect([...rs, ...rs2].every((r) => r.status > 0)).toBe(true);
    // Earlier tests send none of these headers, so every request a backend remembers must lack them.
    const seen = Object.values(stack.backends).flatMap((b) => b.seen);
    expect(seen.length).toBeGreaterThanOrEqual(40);
    for (const r of seen) {
      expect(r.headers['x-reward']).toBeUndefined();
      expect(r.headers['x-bandit-arm']).toBeUndefined();
      // The sidecar sets its own decision id on routed requests; a client's never passes.
      expect(r.headers['x-bandit-decision-id']).not.toBe('forged');
    }
  });

  it('an unmatched request passes untouched to the default route', async () => {
    const rs = await load('/elsewhere', 50, () => ({ 'x-bandit-cluster': 'model_c' }));
    expect(share(rs, 'model_a')).toBe(1);
    expect(rs.every((r) => r.headers['x-bandit-arm'] === undefined)).toBe(true);
  });

  it('with the sidecar stopped mid-run every request still succeeds through the default arm; restarted, it decides again', async () => {
    for (const b of Object.values(stack.backends)) b.behaviour.errorRate = 0;
    const running = load('/learn', 600, () => ({}), 4);
    await new Promise((r) => setTimeout(r, 150));
    await stack.sidecar.stop(0);
    const during = await running;
    expect(during.filter((r) => r.status !== 200)).toEqual([]);
    const down = await load('/learn', 200);
    expect(down.every((r) => r.status === 200 && r.headers['x-backend'] === 'model_a' && r.headers['x-bandit-arm'] === undefined)).toBe(true);

    const loaded = await loadConfigFile(stack.configPath, { env: {} });
    if (!loaded.ok) throw new Error('config');
    const again = await Sidecar.create({ config: loaded.value, logger: silentLogger(), seed: 5, env: {} });
    restarted.push(again);
    await again.start();
    const back = await load('/learn', 300);
    expect(back.every((r) => r.status === 200)).toBe(true);
    expect(back.filter((r) => r.headers['x-bandit-arm'] !== undefined).length).toBeGreaterThan(290);
    expect(new Set(back.map((r) => r.headers['x-backend'])).size).toBeGreaterThan(1);
  });
});
