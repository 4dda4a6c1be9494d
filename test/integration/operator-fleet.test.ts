/**
 * Operator state is fleet state, behind real Envoy: three (Envoy + sidecar)
 * replicas gossiping every 100 ms, load spread round-robin over the three
 * Envoys. Pause on replica 1 reaches every replica within PROPAGATION_ROUNDS
 * gossip rounds; replica 2 restarted (without its snapshot file) while paused
 * comes up paused; resume on replica 3 resumes all. A fourth replica raises a
 * quarantine and is replaced by a replica with a new id; one release on
 * replica 1 lifts it everywhere.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { startBackend, type Backend } from '../support/backend.js';
import { startEnvoy, type RunningEnvoy } from '../support/envoy.js';
import { runLoad, type LoadResult } from '../support/load.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const GOSSIP_INTERVAL_MS = 100;
/** Every replica follows an action within this many gossip rounds (fanout 2 of 3 peers: usually 1-2). */
const PROPAGATION_ROUNDS = 10;

function yaml(id: string, extProc: number, gossip: number, peers: number[], dir: string): string {
  return `
replica_id: ${id}
listen: { ext_proc: 127.0.0.1:${extProc}, admin: 127.0.0.1:0 }
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    default_arm: model-a
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
    policy: { type: static, weights: { model-a: 0.1, model-b: 0.9 } }
    sticky: null
    guardrails: null
gossip: { listen: 127.0.0.1:${gossip}, peers: [${peers.map((p) => `127.0.0.1:${p}`).join(', ')}], interval: ${GOSSIP_INTERVAL_MS}ms, fanout: 2, secret_file: ${dir}/secret, sync_timeout: 2s }
state: { snapshot_file: ${dir}/${id}.json, interval: 200ms }
admin: { token_file: ${dir}/token }
log: { level: silent }
`;
}

describe('operator actions hold across a fleet of three Envoy + sidecar replicas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-opfleet-'));
  const backends: Record<string, Backend> = {};
  const envoys: RunningEnvoy[] = [];
  const replicas: Sidecar[] = [];
  const configs: Config[] = [];
  let gossipPorts: number[] = [];

  const make = async (cfg: Config) => {
    const s = await Sidecar.create({ config: cfg, logger: silentLogger(), env: {}, seed: 7 });
    await s.start();
    return s;
  };
  const configFor = (id: string, extProc: number, gossip: number, peers: number[]) => {
    const cfg = parseConfig(yaml(id, extProc, gossip, peers, dir), { env: {} });
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
    return cfg.value;
  };
  const admin = async (s: Sidecar, path: string, operator = 'oncall@example') => {
    const res = await fetch(`http://${s.addresses.admin}${path}`, { method: 'POST', headers: { authorization: 'Bearer admin-token-0123456789', 'x-bandit-operator': operator } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const mode = (s: Sidecar) => {
    const r = s.engine.route('chat')!;
    s.engine.syncRecords(r);
    return r.mode;
  };
  const armActive = (s: Sidecar, arm: string) => {
    const r = s.engine.route('chat')!;
    s.engine.refreshEligibility(r, s.engine.clock.now());
    return r.eligibility.eligible[r.armIndex.get(arm)!] === 1;
  };
  /** `perEnvoy` requests through each Envoy, interleaved round-robin. */
  const load = async (perEnvoy: number): Promise<LoadResult[]> => {
    const all = await Promise.all(
      envoys.map((e) => runLoad({ url: `http://127.0.0.1:${e.port}/v1/chat/completions`, total: perEnvoy, concurrency: 4, headersOfInterest: ['x-bandit-arm', 'x-backend'] })),
    );
    return all.flat();
  };

  beforeAll(async () => {
    writeFileSync(join(dir, 'secret'), 'fleet-gossip-secret-0123456789');
    writeFileSync(join(dir, 'token'), 'admin-token-0123456789');
    backends.model_a = await startBackend({ name: 'model_a', seed: 1 });
    backends.model_b = await startBackend({ name: 'model_b', seed: 2 });
    gossipPorts = await Promise.all([0, 1, 2, 3, 4].map(() => freePort()));
    const extPorts = await Promise.all([0, 1, 2].map(() => freePort()));
    for (let i = 0; i < 3; i++) {
      configs.push(configFor(`replica-${i + 1}`, extPorts[i]!, gossipPorts[i]!, gossipPorts.filter((_, j) => j !== i)));
      replicas.push(await make(configs[i]!));
    }
    for (let i = 0; i < 3; i++) {
      envoys.push(await startEnvoy({ extProc: { host: '127.0.0.1', port: extPorts[i]! }, clusters: { model_a: backends.model_a.port, model_b: backends.model_b.port } }));
    }
    await waitFor(() => replicas.every((r) => r.readiness().ready), 5000, 'replicas ready');
  });

  afterAll(async () => {
    for (const e of envoys) await e.stop();
    for (const r of replicas) await r?.stop(0);
    await Promise.all(Object.values(backends).map((b) => b.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('before any action, traffic on every Envoy follows the policy (both arms serve)', async () => {
    const rs = await load(40);
    // (The first requests through a just-started Envoy may fail open to the default route; this is the baseline.)
    expect(rs.every((r) => r.status === 200)).toBe(true);
    expect(rs.filter((r) => r.headers['x-backend'] === 'model_b').length).toBeGreaterThan(rs.length / 2);
  });

  it(`pause on replica 1: within ${PROPAGATION_ROUNDS} gossip rounds every replica sends every request to the default arm`, async () => {
    const r = await admin(replicas[0]!, '/v1/routes/chat/pause');
    expect(r.body).toMatchObject({ mode: 'paused', scope: 'fleet', replica: 'replica-1', who: 'oncall@example' });
    const ms = await waitFor(() => replicas.every((s) => mode(s) === 'paused'), PROPAGATION_ROUNDS * GOSSIP_INTERVAL_MS, 'pause everywhere');
    console.log(`[operator-fleet] pause reached all 3 replicas in ${ms} ms (${Math.ceil(ms / GOSSIP_INTERVAL_MS)} gossip rounds)`);
    const rs = await load(40);
    expect(rs.length).toBe(120);
    // Every request reaches the default arm's backend; those the sidecar decided (not failed open under load) say so.
    expect(rs.every((x) => x.status === 200 && x.headers['x-backend'] === 'model_a' && (x.headers['x-bandit-arm'] ?? 'model-a') === 'model-a')).toBe(true);
    expect(rs.filter((x) => x.headers['x-bandit-arm'] === 'model-a').length).toBeGreaterThan(rs.length / 2);
    // Audited where it happened, and visible from every replica.
    const audit = (await (await fetch(`http://${replicas[2]!.addresses.admin}/v1/audit`)).json()) as { records: Array<Record<string, unknown>> };
    expect(audit.records).toContainEqual(expect.objectContaining({ kind: 'mode', route: 'chat', mode: 'paused', who: 'oncall@example', replica: 'replica-1' }));
  });

  it('replica 2 restarted while paused, without its snapshot file, comes up paused', async () => {
    await replicas[1]!.stop(0);
    rmSync(configs[1]!.state.snapshot_file!, { force: true });
    replicas[1] = await make(configs[1]!);
    await waitFor(() => replicas[1]!.readiness().ready, 5000, 'replica 2 ready');
    expect(mode(replicas[1]!)).toBe('paused');
    const rs = await runLoad({ url: `http://127.0.0.1:${envoys[1]!.port}/v1/chat/completions`, total: 40, concurrency: 4, headersOfInterest: ['x-bandit-arm', 'x-backend'] });
    expect(rs.every((x) => x.status === 200 && x.headers['x-backend'] === 'model_a' && (x.headers['x-bandit-arm'] ?? 'model-a') === 'model-a')).toBe(true);
    expect(rs.filter((x) => x.headers['x-bandit-arm'] === 'model-a').length).toBeGreaterThan(rs.length / 2);
  });

  it(`resume on replica 3 resumes all within ${PROPAGATION_ROUNDS} gossip rounds`, async () => {
    const r = await admin(replicas[2]!, '/v1/routes/chat/resume', 'second-responder');
    expect(r.body).toMatchObject({ mode: 'active', previous_mode: 'paused' });
    const ms = await waitFor(() => replicas.every((s) => mode(s) === 'active'), PROPAGATION_ROUNDS * GOSSIP_INTERVAL_MS, 'resume everywhere');
    console.log(`[operator-fleet] resume reached all 3 replicas in ${ms} ms`);
    const rs = await load(40);
    expect(rs.filter((x) => x.headers['x-backend'] === 'model_b').length).toBeGreaterThan(rs.length / 2);
  });

  it('a quarantine raised by a fourth replica that is then replaced (new id) is lifted by one release on replica 1', async () => {
    const peers = gossipPorts.slice(0, 3);
    const r4 = await make(configFor('replica-4', await freePort(), gossipPorts[3]!, peers));
    await waitFor(() => r4.readiness().ready, 5000, 'replica 4 ready');
    expect((await admin(r4, '/v1/routes/chat/arms/model-b/quarantine')).body).toMatchObject({ state: 'quarantined' });
    await waitFor(() => replicas.every((s) => !armActive(s, 'model-b')), PROPAGATION_ROUNDS * GOSSIP_INTERVAL_MS, 'quarantine everywhere');
    await r4.stop(0);
    // Its replacement has a new id (a Kubernetes rollout); the quarantine outlives the pod that raised it.
    const r5 = await make(configFor('replica-5', await freePort(), gossipPorts[4]!, peers));
    try {
      await waitFor(() => r5.readiness().ready, 5000, 'replica 5 ready');
      expect(armActive(r5, 'model-b')).toBe(false);
      let rs = await load(20);
      expect(rs.every((x) => x.headers['x-backend'] === 'model_a')).toBe(true);
      const rel = await admin(replicas[0]!, '/v1/routes/chat/arms/model-b/release');
      expect(rel.body).toMatchObject({ state: 'active', scope: 'fleet' });
      const fleet = [...replicas, r5];
      const ms = await waitFor(() => fleet.every((s) => armActive(s, 'model-b')), PROPAGATION_ROUNDS * GOSSIP_INTERVAL_MS, 'release everywhere');
      console.log(`[operator-fleet] release reached all 4 replicas in ${ms} ms`);
      rs = await load(40);
      expect(rs.filter((x) => x.headers['x-backend'] === 'model_b').length).toBeGreaterThan(rs.length / 2);
    } finally {
      await r5.stop(0);
    }
  });
});
