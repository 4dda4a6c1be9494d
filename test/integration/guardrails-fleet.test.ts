/**
 * Guardrails across a fleet, behind real Envoy: a steady noisy arm is left
 * alone, and a trip on the replica that sees the failure quarantines the arm
 * on its gossip peer too. Replica 1 takes all traffic; replica 2 only gossips.
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

const GOSSIP_INTERVAL_MS = 200;

function yaml(id: string, gossip: number, peer: number, dir: string): string {
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
    # The default rules and limits, on a 2 s window so the EWMA baselines warm up within the run.
    guardrails: { window: 2s }
gossip: { listen: 127.0.0.1:${gossip}, peers: [127.0.0.1:${peer}], interval: ${GOSSIP_INTERVAL_MS}ms, fanout: 1, secret_file: ${dir}/secret, sync_timeout: 1s }
log: { level: silent }
`;
}

async function trips(s: Sidecar): Promise<number> {
  const m = await s.metrics.guardrailTrips.get();
  return m.values.reduce((t, v) => t + v.value, 0);
}

const quarantined = (s: Sidecar, arm: string) => {
  const route = s.engine.route('chat')!;
  s.engine.refreshEligibility(route, s.engine.clock.now());
  return route.eligibility.eligible[route.armIndex.get(arm)!] === 0;
};

describe('guardrails across two replicas behind real Envoy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-gfleet-'));
  let r1: Sidecar;
  let r2: Sidecar;
  let envoy: RunningEnvoy;
  const backends: Record<string, Backend> = {};

  beforeAll(async () => {
    writeFileSync(join(dir, 'secret'), 'fleet-gossip-secret-0123456789');
    backends.model_a = await startBackend({ name: 'model_a', errorRate: 0.05, latencyMs: 2, seed: 1 });
    backends.model_b = await startBackend({ name: 'model_b', errorRate: 0.05, latencyMs: 2, seed: 2 });
    const g1 = await freePort();
    const g2 = await freePort();
    const make = async (id: string, gossip: number, peer: number) => {
      const cfg = parseConfig(yaml(id, gossip, peer, dir), { env: {} });
      if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
      const s = await Sidecar.create({ config: cfg.value, logger: silentLogger(), env: {}, seed: 3 });
      await s.start();
      return s;
    };
    r1 = await make('replica-1', g1, g2);
    r2 = await make('replica-2', g2, g1);
    const ext = r1.addresses.extProc;
    envoy = await startEnvoy({
      extProc: { host: '127.0.0.1', port: Number(ext.slice(ext.lastIndexOf(':') + 1)) },
      clusters: { model_a: backends.model_a.port, model_b: backends.model_b.port },
    });
  });

  afterAll(async () => {
    await envoy?.stop();
    await r1?.stop(500);
    await r2?.stop(500);
    for (const b of Object.values(backends)) await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const load = (total: number) => runLoad({ url: `http://127.0.0.1:${envoy.port}/v1/chat/x`, total, concurrency: 2, headersOfInterest: ['x-bandit-arm'] });

  it('a steady 5% of random errors on both arms trips nothing over 6,000 requests (no flapping)', async () => {
    const t0 = Date.now();
    const rs = await load(6000);
    const seconds = (Date.now() - t0) / 1000;
    const errors = rs.filter((r) => r.status !== 200).length / rs.length;
    console.log(`[guardrails-fleet] steady run: ${rs.length} requests in ${seconds.toFixed(1)} s, ${(errors * 100).toFixed(1)}% errors, trips ${await trips(r1)}`, JSON.stringify((await r1.metrics.guardrailTrips.get()).values));
    expect(errors).toBeGreaterThan(0.02); // the noise really was there
    expect(await trips(r1)).toBe(0);
    expect(quarantined(r1, 'model-b') || quarantined(r1, 'model-a')).toBe(false);
  });

  it('a trip on replica 1 quarantines the arm on replica 2 within a few gossip intervals', async () => {
    backends.model_b!.behaviour.errorRate = 1;
    const t0 = Date.now();
    const traffic = load(3000);
    // Watch both replicas while the load runs: when each one stops considering model-b eligible.
    let r1At = 0;
    let r2At = 0;
    while ((!r1At || !r2At) && Date.now() - t0 < 15_000) {
      if (!r1At && quarantined(r1, 'model-b')) r1At = Date.now();
      if (!r2At && quarantined(r2, 'model-b')) r2At = Date.now();
      await new Promise((r) => setTimeout(r, 5));
    }
    await traffic;
    console.log(`[guardrails-fleet] replica 1 quarantined model-b ${r1At - t0} ms after the switch; replica 2 followed ${r2At - r1At} ms later (gossip every ${GOSSIP_INTERVAL_MS} ms)`);
    expect(r1At, 'replica 1 quarantined model-b').toBeGreaterThan(0);
    expect(r2At, 'replica 2 quarantined model-b').toBeGreaterThan(0);
    // Only replica 1 saw the failure, so replica 2 learned it from gossip. Stated bound: 5 s (25 intervals).
    expect(r2At - r1At).toBeGreaterThanOrEqual(0);
    expect(r2At - r1At).toBeLessThan(5_000);
    expect(quarantined(r2, 'model-a')).toBe(false);
  });
});
