/**
 * Time-based decay across a rollout, behind real Envoy. Two fleets of three
 * (Envoy + sidecar) replicas share two backends and a `half_life` Thompson
 * policy. In fleet A replica 3 is stopped and replaced by a replica with a new
 * id (at the gossip address its peers know, as a Service name would resolve),
 * so A's fleet view holds a dead slot full of pre-drift evidence; fleet B never
 * loses a replica. Replica 3 served each fleet's pre-drift traffic, so the
 * dead slot holds fleet A's pre-drift evidence. Then the backends drift: the
 * best arm turns bad. Both fleets get the same load at the same time, spread
 * round-robin over their Envoys.
 *
 * Shown: both fleets move traffic off the bad arm (A − B is printed: see the
 * comment at the comparison, it is not asserted); and the
 * dead slot leaves the fleet view (GET /v1/fleet) once unchanged for
 * `state.slot_expiry`, not before.
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

const INTERVAL_MS = 200;
const HALF_LIFE = '1s';
const SLOT_EXPIRY_MS = 12_000;
const BEFORE = 300;
/** Requests per fleet after the drift: the transition (checked to happen while the dead slot is in view), then the rest. */
const TRANSITION = 150;
const AFTER = 450;
const CONCURRENCY = 6;
const GOOD = 'model-a';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
  return Date.now() - t0;
}

function replicaConfig(id: string, listen: string, peers: string[], secretFile: string): Config {
  const yaml = `
replica_id: ${id}
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms: [{ name: model-a, cluster: model_a }, { name: model-b, cluster: model_b }]
    policy: { type: thompson, model: beta, min_share: 0.05, drift: { mode: half_life, half_life: ${HALF_LIFE} } }
    sticky: null
    guardrails: null
gossip: { listen: ${listen}, peers: [${peers.join(', ')}], interval: ${INTERVAL_MS}ms, fanout: 2, secret_file: ${secretFile} }
state: { slot_expiry: ${SLOT_EXPIRY_MS}ms }
log: { level: silent }
`;
  const r = parseConfig(yaml, { env: {}, hostname: id });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

interface Replica {
  sidecar: Sidecar;
  envoy: RunningEnvoy;
}

describe('a rollout followed by a drift, with half_life decay', () => {
  let dir: string;
  let secretFile: string;
  const backends: Record<string, Backend> = {};
  const gossip: Record<'A' | 'B', string[]> = { A: [], B: [] };
  const fleets: Record<'A' | 'B', Replica[]> = { A: [], B: [] };
  const agent = new Agent({ keepAlive: true, maxSockets: 4 * CONCURRENCY });

  const startReplica = async (fleet: 'A' | 'B', slot: number, id: string): Promise<Replica> => {
    const addrs = gossip[fleet];
    const config = replicaConfig(id, addrs[slot]!, addrs.filter((_, j) => j !== slot), secretFile);
    const sidecar = await Sidecar.create({ config, logger: silentLogger(), seed: fleet === 'A' ? 50 + slot : 60 + slot, env: {} });
    await sidecar.start();
    const [host, port] = sidecar.addresses.extProc.split(':');
    const envoy = await startEnvoy({ extProc: { host: host!, port: Number(port) }, clusters: { model_a: backends.model_a!.port, model_b: backends.model_b!.port } });
    return { sidecar, envoy };
  };
  const stopReplica = async (r: Replica) => {
    await r.envoy.stop();
    await r.sidecar.stop(0);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eb-rollout-drift-'));
    secretFile = join(dir, 'fleet.secret');
    writeFileSync(secretFile, 'fleet-secret-for-the-rollout-test');
    backends.model_a = await startBackend({ name: 'model_a', errorRate: 0.05, seed: 1 });
    backends.model_b = await startBackend({ name: 'model_b', errorRate: 0.5, seed: 2 });
    for (const f of ['A', 'B'] as const) {
      gossip[f] = await Promise.all([0, 1, 2].map(async () => `127.0.0.1:${await freePort()}`));
      for (let i = 0; i < 3; i++) fleets[f].push(await startReplica(f, i, `${f.toLowerCase()}-replica-${i + 1}`));
    }
    await until(() => [...fleets.A, ...fleets.B].every((r) => r.sidecar.readiness().ready), 10_000, 'replicas ready');
  }, 60_000);

  afterAll(async () => {
    for (const r of [...fleets.A, ...fleets.B]) await stopReplica(r);
    await Promise.all(Object.values(backends).map((b) => b.stop()));
    agent.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `total` requests spread round-robin over a fleet's Envoys: the arms, in the order sent (undefined: fail-open). */
  const load = async (fleet: Replica[], total: number): Promise<Array<string | undefined>> => {
    const arms: Array<string | undefined> = new Array(total);
    let next = 0;
    const one = (port: number) =>
      new Promise<string | undefined>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent, timeout: 10_000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['x-bandit-arm'] as string | undefined));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      });
    const worker = async () => {
      while (next < total) {
        const i = next++;
        arms[i] = await one(fleet[i % fleet.length]!.envoy.port);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return arms;
  };
  const shareOf = (arms: Array<string | undefined>, arm: string) => {
    const decided = arms.filter((a) => a !== undefined);
    return decided.filter((a) => a === arm).length / decided.length;
  };
  const fleetSlots = async (r: Replica) => {
    const body = (await (await fetch(`http://${r.sidecar.addresses.admin}/v1/fleet`)).json()) as { slots: Array<{ replica: string }> };
    return body.slots.map((s) => s.replica).sort();
  };

  it('both fleets leave the bad arm (A − B printed), and the dead slot expires after slot_expiry, not before', async () => {
    // Before the drift replica 3 of each fleet serves the traffic, so its slot holds the fleet's pre-drift evidence.
    const pre = await Promise.all([load([fleets.A[2]!], BEFORE), load([fleets.B[2]!], BEFORE)]);
    // Both fleets learned that model-a is the best arm.
    for (const arms of pre) expect(shareOf(arms, GOOD)).toBeGreaterThan(0.6);

    // Rollout in fleet A: replica 3 goes, a replica with a new id comes up where its peers look for it.
    const dead = fleets.A[2]!;
    await stopReplica(dead);
    const stoppedAt = Date.now();
    fleets.A[2] = await startReplica('A', 2, 'a-replica-4');
    await until(() => fleets.A[2]!.sidecar.readiness().ready, 10_000, 'replacement ready');
    await until(async () => (await fleetSlots(fleets.A[0]!)).includes('a-replica-4'), 5_000, 'the replacement in the fleet view');
    // The dead slot is still in the fleet view, with its pre-drift evidence.
    expect(await fleetSlots(fleets.A[0]!)).toEqual(['a-replica-1', 'a-replica-2', 'a-replica-3', 'a-replica-4']);

    // The drift: the best arm turns bad, the other good.
    backends.model_a!.behaviour.errorRate = 0.95;
    backends.model_b!.behaviour.errorRate = 0.05;
    const driftAt = Date.now();
    const first = await Promise.all([load(fleets.A, TRANSITION), load(fleets.B, TRANSITION)]);
    // The transition happened while fleet A's view still held the dead slot.
    expect(await fleetSlots(fleets.A[0]!)).toContain('a-replica-3');
    const rest = await Promise.all([load(fleets.A, AFTER - TRANSITION), load(fleets.B, AFTER - TRANSITION)]);
    const afterA = [...first[0], ...rest[0]];
    const afterB = [...first[1], ...rest[1]];
    const driftMs = Date.now() - driftAt;
    const badA = shareOf(afterA, GOOD);
    const badB = shareOf(afterB, GOOD);
    const lastThird = (arms: Array<string | undefined>) => shareOf(arms.slice((2 * arms.length) / 3), GOOD);
    const transition = (arms: Array<string | undefined>) => shareOf(arms.slice(0, TRANSITION), GOOD);
    console.log(
      `rollout drift: bad-arm share after the drift A (rolled) ${badA.toFixed(3)}, B (intact) ${badB.toFixed(3)}; first ${TRANSITION} A ${transition(afterA).toFixed(3)}, B ${transition(afterB).toFixed(3)}; last third A ${lastThird(afterA).toFixed(3)}, B ${lastThird(afterB).toFixed(3)}; ${AFTER} requests each in ${driftMs} ms`,
    );
    // Both fleets really left the bad arm...
    expect(lastThird(afterA)).toBeLessThan(0.5);
    expect(lastThird(afterB)).toBeLessThan(0.5);
    // ...and the fleet carrying a dead slot did so as fast as the intact one.
    // A − B is printed, not asserted. Under machine load (post-drift phase 2-5 s) it stayed
    // within 0.03 in seven runs; on a quiet machine (450 requests in ~1.5 s, about one
    // half-life) two clean-clone CI runs gave +0.06 and +0.14 over the 450 and +0.18, +0.39 over
    // the first 150: the rolled fleet was slower there. That is an open finding (README, Known
    // limitations), so the test does not claim "as fast as".
    expect(badA).toBeLessThan(0.5);

    // The dead slot leaves the fleet view once unchanged for slot_expiry (and not before).
    const deadInView = async () => (await fleetSlots(fleets.A[0]!)).includes('a-replica-3') || (await fleetSlots(fleets.A[1]!)).includes('a-replica-3');
    await until(async () => !(await deadInView()), SLOT_EXPIRY_MS + 5_000, 'the dead slot expired');
    const goneAfter = Date.now() - stoppedAt;
    expect(goneAfter).toBeGreaterThanOrEqual(SLOT_EXPIRY_MS - 2_000);
    for (const r of fleets.A) expect(await fleetSlots(r)).toEqual(['a-replica-1', 'a-replica-2', 'a-replica-4']);
    console.log(`rollout drift: dead slot left the fleet view ${goneAfter} ms after its replica stopped (slot_expiry ${SLOT_EXPIRY_MS} ms)`);
  }, 120_000);
});
