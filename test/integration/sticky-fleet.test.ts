/**
 * Fleet-wide sticky sessions behind real Envoy: three (Envoy + sidecar)
 * replicas gossiping, one fleet secret, and a client that spreads each
 * session's requests round-robin over the three Envoys and echoes the
 * `x-bandit-pin` it gets back (as an API client would). 1,000 sessions × 10
 * requests. Mid-run replica 3 (Envoy and sidecar) is killed and restarted, the
 * backends drift (the best arm turns bad, so the shares move), and an operator
 * quarantines one arm: every session stays on one arm, except sessions whose
 * arm was quarantined, which move once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { startBackend, type Backend } from '../support/backend.js';
import { startEnvoy, type RunningEnvoy } from '../support/envoy.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const SESSIONS = 1000;
const REQUESTS = 10;
const CONCURRENCY = 16;
/**
 * A response without x-bandit-arm was served by Envoy's fail-open path (the
 * sidecar, in this one busy test process with two others, did not answer
 * within the 200 ms message_timeout): the bandit made no decision, so it says
 * nothing about stickiness. Counted and bounded, not hidden.
 */
const MAX_FAIL_OPEN = 0.02;
const INTERVAL_MS = 200;
const ARMS = ['model-a', 'model-b', 'model-c'];
const QUARANTINED = 'model-c';

function replicaConfig(i: number, gossip: string[], secretFile: string): Config {
  const yaml = `
replica_id: replica-${i + 1}
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
decision_ids: { secret_file: ${secretFile} }
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms: [{ name: model-a, cluster: model_a }, { name: model-b, cluster: model_b }, { name: model-c, cluster: model_c }]
    policy: { type: thompson, model: beta, min_share: 0.05 }
    sticky: { header: x-session-id, ttl: 10m }
    guardrails: null
gossip: { listen: ${gossip[i]}, peers: [${gossip.filter((_, j) => j !== i).join(', ')}], interval: ${INTERVAL_MS}ms, secret_file: ${secretFile} }
log: { level: silent }
`;
  const r = parseConfig(yaml, { env: {}, hostname: `replica-${i + 1}` });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

interface Seen {
  arm: string;
  round: number;
}

describe('sticky sessions across a fleet of three (Envoy + sidecar) replicas', () => {
  let dir: string;
  const backends: Record<string, Backend> = {};
  const configs: Config[] = [];
  const sidecars: (Sidecar | null)[] = [null, null, null];
  const envoys: (RunningEnvoy | null)[] = [null, null, null];
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  const startReplica = async (i: number) => {
    const s = await Sidecar.create({ config: configs[i]!, logger: silentLogger(), seed: 100 + i, env: {} });
    await s.start();
    sidecars[i] = s;
    const [host, port] = s.addresses.extProc.split(':');
    envoys[i] = await startEnvoy({ extProc: { host: host!, port: Number(port) }, clusters: Object.fromEntries(Object.entries(backends).map(([k, b]) => [k, b.port])) });
  };
  const stopReplica = async (i: number) => {
    await envoys[i]?.stop();
    await sidecars[i]?.stop(0);
    envoys[i] = null;
    sidecars[i] = null;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eb-sticky-fleet-'));
    const secretFile = join(dir, 'fleet.secret');
    writeFileSync(secretFile, 'fleet-secret-for-the-sticky-test');
    const gossip = await Promise.all([0, 1, 2].map(async () => `127.0.0.1:${await freePort()}`));
    for (let i = 0; i < 3; i++) configs.push(replicaConfig(i, gossip, secretFile));
    backends.model_a = await startBackend({ name: 'model_a', errorRate: 0.05, seed: 1 });
    backends.model_b = await startBackend({ name: 'model_b', errorRate: 0.5, seed: 2 });
    backends.model_c = await startBackend({ name: 'model_c', errorRate: 0.5, seed: 3 });
    await Promise.all([0, 1, 2].map(startReplica));
  }, 90_000);

  afterAll(async () => {
    for (let i = 0; i < 3; i++) await stopReplica(i);
    await Promise.all(Object.values(backends).map((b) => b.stop()));
    agent.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One request through an Envoy: the arm from x-bandit-arm and the pin to echo next time. */
  const send = (port: number, session: string, pin: string | undefined) =>
    new Promise<{ arm: string | undefined; pin: string | undefined }>((resolve, reject) => {
      const headers: Record<string, string> = { 'x-session-id': session };
      if (pin) headers['x-bandit-pin'] = pin;
      const req = request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent, headers, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve({ arm: res.headers['x-bandit-arm'] as string | undefined, pin: res.headers['x-bandit-pin'] as string | undefined }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });

  const seen = new Map<string, Seen[]>();
  const pins = new Map<string, string>();
  const failOpen: string[] = [];
  /** Round r: request r of every session, spread round-robin over the live Envoys. */
  const round = async (r: number) => {
    const live = envoys.filter((e): e is RunningEnvoy => e !== null);
    let next = 0;
    const worker = async () => {
      while (next < SESSIONS) {
        const s = next++;
        const session = `session-${s}`;
        const out = await send(live[(s + r) % live.length]!.port, session, pins.get(session));
        if (out.arm === undefined) failOpen.push(`${session}@${r}`);
        if (out.pin) pins.set(session, out.pin);
        const list = seen.get(session) ?? [];
        if (out.arm !== undefined) list.push({ arm: out.arm, round: r });
        seen.set(session, list);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  };
  const shares = (i: number) => {
    const e = sidecars[i]!.engine;
    return Array.from(e.shares(e.route('chat')!));
  };

  it('every session sees one arm through a replica restart and a drift; only a quarantined arm’s sessions move, once', async () => {
    for (let r = 0; r < 3; r++) await round(r);
    const before = shares(0);

    // Replica 3 (Envoy and sidecar) dies; its clients land on the other two.
    await stopReplica(2);
    for (let r = 3; r < 5; r++) await round(r);
    // It comes back, having never seen these sessions, and the backends drift:
    // the best arm turns bad, the worst good, so the shares move.
    await startReplica(2);
    await waitFor(() => sidecars[2]!.readiness().ready, 10_000, 'replica 3 ready');
    backends.model_a!.behaviour.errorRate = 0.95;
    backends.model_b!.behaviour.errorRate = 0;
    for (let r = 5; r < 7; r++) await round(r);

    // An operator quarantines an arm on replica 1; gossip carries it to the others.
    const admin = sidecars[0]!.addresses.admin;
    const res = await fetch(`http://${admin}/v1/routes/chat/arms/${QUARANTINED}/quarantine`, { method: 'POST' });
    expect(res.status).toBe(200);
    const quarantinedEverywhere = () => sidecars.every((s) => shares(sidecars.indexOf(s))[ARMS.indexOf(QUARANTINED)] === 0);
    await waitFor(quarantinedEverywhere, 20 * INTERVAL_MS, 'quarantine in force on every replica');
    for (let r = 7; r < REQUESTS; r++) await round(r);
    const after = shares(0);

    expect(failOpen.length / (SESSIONS * REQUESTS)).toBeLessThanOrEqual(MAX_FAIL_OPEN);
    // The shares really moved (weight changes), yet sessions did not.
    expect(Math.abs(after[0]! - before[0]!)).toBeGreaterThan(0.1);
    let moved = 0;
    let onQuarantined = 0;
    for (const [session, list] of seen) {
      expect(list.length, session).toBeGreaterThan(0);
      const first = list[0]!.arm;
      if (first !== QUARANTINED) {
        expect(new Set(list.map((x) => x.arm)), `${session} switched arms`).toEqual(new Set([first]));
        continue;
      }
      onQuarantined++;
      // On the quarantined arm until the quarantine, then one other arm for good.
      const later = list.filter((x) => x.round >= 7);
      expect(later.every((x) => x.arm === later[0]!.arm && x.arm !== QUARANTINED), `${session} after quarantine`).toBe(true);
      expect(list.filter((x) => x.round < 7).every((x) => x.arm === QUARANTINED), `${session} before quarantine`).toBe(true);
      moved++;
    }
    expect(onQuarantined).toBeGreaterThan(50);
    expect(moved).toBe(onQuarantined);
    console.log(`sticky fleet: ${SESSIONS} sessions × ${REQUESTS}; shares on replica 1 before drift ${before.map((x) => x.toFixed(2)).join('/')}, after ${after.map((x) => x.toFixed(2)).join('/')}; ${onQuarantined} sessions moved off ${QUARANTINED}, all others on one arm; ${failOpen.length} fail-open responses`);
  }, 300_000); // ~25 s on a quiet 2-core machine; Envoy ×3 and 10,000 requests slow down a lot under shared load

  it('a forged pin picks nothing, and no backend ever sees a pin', async () => {
    // Forge a pin for the arm with the smallest share: honoured, it would take all 40 sessions.
    const s0 = shares(0);
    const target = s0.indexOf(Math.min(...s0));
    expect(s0[target]).toBeLessThanOrEqual(1 / 3);
    const forged = `1~${ARMS[target]}~${Math.floor(Date.now() / 1000).toString(36)}~AAAAAAAAAAAAAAAA`;
    const invalid = async () => (await sidecars[0]!.metrics.stickyLookups.get()).values.find((v) => v.labels.outcome === 'pin_invalid')?.value ?? 0;
    const before = await invalid();
    let onForgedArm = 0;
    for (let i = 0; i < 40; i++) {
      const out = await send(envoys[0]!.port, `forger-${i}`, forged);
      if (out.arm === undefined) continue; // served fail-open: no decision, no pin
      if (out.arm === ARMS[target]) onForgedArm++;
      expect(out.pin).toMatch(new RegExp(`^1~${out.arm}~`));
      expect(out.pin).not.toBe(forged);
    }
    expect(await invalid()).toBeGreaterThanOrEqual(before + 39);
    // At most a third of the sessions expected there by share; 4 sd above that is still far below 40.
    expect(onForgedArm).toBeLessThan(30);
    for (const b of Object.values(backends)) {
      expect(b.seen.length).toBeGreaterThan(0);
      for (const r of b.seen) expect(r.headers['x-bandit-pin']).toBeUndefined();
    }
  });
});
