/**
 * Notifications from a fleet, behind real Envoy: two replicas (each with its
 * own Envoy, gossiping) see the same arm fail and both may trip; the webhook
 * receiver gets exactly one quarantine event, with route, arm, rule and
 * readings. A second webhook that never answers does not slow routing: every
 * request is still decided by the sidecar (x-bandit-arm set, well under
 * Envoy's 200 ms ext_proc message timeout, past which Envoy would fail open).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { startBackend, type Backend } from '../support/backend.js';
import { startEnvoy, type RunningEnvoy } from '../support/envoy.js';
import { runLoad } from '../support/load.js';
import { freePort } from '../support/ports.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

// Slow enough that both replicas usually trip on their own before the other's flag arrives.
const GOSSIP_INTERVAL_MS = 1_000;
const SETTLE_MS = 2_500;
const EXTPROC_MESSAGE_TIMEOUT_MS = 200;

function yaml(id: string, gossip: number, peer: number, dir: string, hook: string, hang: string): string {
  return `
replica_id: ${id}
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
    policy: { type: static, weights: { model-a: 0.5, model-b: 0.5 } }
    sticky: null
    guardrails: { window: 2s, min_samples: 20 }
gossip: { listen: 127.0.0.1:${gossip}, peers: [127.0.0.1:${peer}], interval: ${GOSSIP_INTERVAL_MS}ms, fanout: 1, secret_file: ${dir}/secret, sync_timeout: 1s }
notifications:
  webhooks:
    - { url: "${hook}", format: generic }
    - { url: "${hang}", format: slack }
  kubernetes_events: off
  timeout: 10s
  retries: 1
  settle: ${SETTLE_MS}ms
log: { level: silent }
`;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

const quarantined = (s: Sidecar, arm: string) => {
  const route = s.engine.route('chat')!;
  s.engine.refreshEligibility(route, s.engine.clock.now());
  return route.eligibility.eligible[route.armIndex.get(arm)!] === 0;
};

describe('notifications across two replicas behind real Envoy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-notify-'));
  const sidecars: Sidecar[] = [];
  const envoys: RunningEnvoy[] = [];
  const backends: Record<string, Backend> = {};
  let hook: Receiver;
  let hang: Receiver;

  beforeAll(async () => {
    writeFileSync(join(dir, 'secret'), 'notify-fleet-secret-0123456789');
    hook = await startReceiver();
    hang = await startReceiver({ hang: true });
    backends.model_a = await startBackend({ name: 'model_a', errorRate: 0, latencyMs: 2, seed: 1 });
    backends.model_b = await startBackend({ name: 'model_b', errorRate: 0, latencyMs: 2, seed: 2 });
    const g = [await freePort(), await freePort()];
    for (let i = 0; i < 2; i++) {
      const cfg = parseConfig(yaml(`replica-${i + 1}`, g[i]!, g[1 - i]!, dir, hook.url, hang.url), { env: {} });
      if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
      const s = await Sidecar.create({ config: cfg.value, logger: silentLogger(), env: {}, seed: 3 + i });
      await s.start();
      sidecars.push(s);
      const ext = s.addresses.extProc;
      envoys.push(
        await startEnvoy({
          extProc: { host: '127.0.0.1', port: Number(ext.slice(ext.lastIndexOf(':') + 1)) },
          clusters: { model_a: backends.model_a.port, model_b: backends.model_b.port },
        }),
      );
    }
  });

  afterAll(async () => {
    for (const e of envoys) await e.stop();
    for (const s of sidecars) await s.stop(500);
    for (const b of Object.values(backends)) await b.stop();
    await hook?.stop();
    await hang?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const load = (e: RunningEnvoy, total: number) => runLoad({ url: `http://127.0.0.1:${e.port}/v1/chat/x`, total, concurrency: 2, headersOfInterest: ['x-bandit-arm'] });

  let baselineMedian = 0;

  it('a healthy fleet sends nothing', async () => {
    baselineMedian = median((await Promise.all(envoys.map((e) => load(e, 200)))).flat().map((r) => r.latencyMs));
    await new Promise((r) => setTimeout(r, SETTLE_MS + 300));
    expect(hook.received).toEqual([]);
  });

  it('one arm failing on both replicas: exactly one quarantine event, with route, arm, rule and readings', async () => {
    backends.model_b!.behaviour.errorRate = 1;
    const t0 = Date.now();
    const traffic = Promise.all(envoys.map((e) => load(e, 600)));
    while (!(quarantined(sidecars[0]!, 'model-b') && quarantined(sidecars[1]!, 'model-b')) && Date.now() - t0 < 15_000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await traffic;
    expect(quarantined(sidecars[0]!, 'model-b') && quarantined(sidecars[1]!, 'model-b')).toBe(true);
    const tripped = [];
    for (const s of sidecars) tripped.push((await s.metrics.guardrailTrips.get()).values.reduce((t, v) => t + v.value, 0));
    // wait out the settle time and more, so a second (duplicate) event would have arrived
    await new Promise((r) => setTimeout(r, SETTLE_MS + 1_500));
    console.log(`[notify-fleet] trips per replica: ${tripped.join(', ')}; webhook events: ${hook.received.length}`);
    const events = hook.received.map((r) => r.body as Record<string, unknown>);
    expect(events.filter((e) => e.kind === 'quarantine')).toHaveLength(1);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e).toMatchObject({ kind: 'quarantine', route: 'chat', arm: 'model-b', severity: 'warning' });
    expect(['replica-1', 'replica-2']).toContain(e.replica);
    expect(typeof e.rule).toBe('string');
    const readings = e.readings as Array<{ rule: string; value: number; limit: number; samples: number }>;
    const fired = readings.find((r) => r.rule === e.rule)!;
    expect(fired.value).toBeGreaterThan(fired.limit);
    expect(fired.samples).toBeGreaterThanOrEqual(20);
    expect(e.summary).toMatch(/arm model-b of route chat quarantined by rule/);
  });

  it('a webhook that never answers does not slow routing', async () => {
    expect(hang.received.length).toBeGreaterThanOrEqual(1); // it holds a notice right now
    const rs = (await Promise.all(envoys.map((e) => load(e, 200)))).flat();
    const decided = rs.filter((r) => r.headers['x-bandit-arm'] !== undefined);
    const mid = median(rs.map((r) => r.latencyMs));
    console.log(`[notify-fleet] with a hanging webhook: ${rs.length} requests, ${decided.length} decided by the sidecar, median ${mid.toFixed(1)} ms (healthy phase ${baselineMedian.toFixed(1)} ms)`);
    expect(rs.every((r) => r.status === 200)).toBe(true);
    // x-bandit-arm is only added when the sidecar answered in time (past the message timeout Envoy fails open without it)
    expect(decided).toHaveLength(rs.length);
    // a request path waiting on the webhook would take ≥ the message timeout; noise on a shared machine stays far below it
    expect(mid).toBeLessThan(Math.min(EXTPROC_MESSAGE_TIMEOUT_MS / 2, baselineMedian * 3 + 10));
  });
});
