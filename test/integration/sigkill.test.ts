/**
 * A replica killed with SIGKILL — no drain, no final snapshot — comes back with
 * its state: the restarted process adopts its earlier incarnation's slot from a
 * gossip peer before it reports ready. Runs the built CLI (`npm test` builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { createFakeEnvoy, requestHeadersMsg, responseHeadersMsg } from '../support/extproc-client.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const ROOT = join(import.meta.dirname, '..', '..');

function replicaYaml(id: string, ports: { ext: number; admin: number; gossip: number; peer: number }, dir: string): string {
  return `
replica_id: ${id}
listen: { ext_proc: 127.0.0.1:${ports.ext}, admin: 127.0.0.1:${ports.admin} }
routes:
  - name: chat
    match: { path_prefix: /chat }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
    guardrails: null
gossip: { listen: 127.0.0.1:${ports.gossip}, peers: [127.0.0.1:${ports.peer}], interval: 200ms, fanout: 1, secret_file: ${dir}/gossip.secret, sync_timeout: 4s }
# Written only on shutdown: a SIGKILLed replica leaves no file, so its state can only come back from its peer.
state: { snapshot_file: ${dir}/${id}.slot.json, interval: 1h }
log: { level: warn }
`;
}

describe('a replica killed with SIGKILL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-kill-'));
  const children: ChildProcess[] = [];
  let peer: Sidecar | undefined;

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await peer?.stop(500);
    rmSync(dir, { recursive: true, force: true });
  });

  const startChild = (config: string) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'envoy-bandit.js'), 'serve', '--config', config], { stdio: 'ignore' });
    children.push(child);
    return child;
  };
  const samples = async (adminPort: number) => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/v1/routes`);
    const body = (await res.json()) as { routes: Array<{ arms: Array<{ samples: number }> }> };
    return body.routes[0]!.arms.reduce((t, a) => t + a.samples, 0);
  };

  it('comes back with its learned state, adopted from its gossip peer', async () => {
    writeFileSync(join(dir, 'gossip.secret'), 'gossip-shared-secret-0123456789');
    const a = { ext: await freePort(), admin: await freePort(), gossip: await freePort(), peer: 0 };
    const b = { ext: await freePort(), admin: await freePort(), gossip: await freePort(), peer: a.gossip };
    a.peer = b.gossip;
    const aConfig = join(dir, 'a.yaml');
    writeFileSync(aConfig, replicaYaml('replica-a', a, dir));
    const bParsed = parseConfig(replicaYaml('replica-b', b, dir), { env: {} });
    if (!bParsed.ok) throw new Error(JSON.stringify(bParsed.error));
    peer = await Sidecar.create({ config: bParsed.value, logger: silentLogger(), env: {} });
    await peer.start();

    let child = startChild(aConfig);
    await waitFor(() => fetch(`http://127.0.0.1:${a.admin}/readyz`).then((r) => r.ok, () => false), 15_000, 'replica-a ready');

    // 60 requests through replica-a's ext_proc, as Envoy would send them.
    const envoy = createFakeEnvoy(`127.0.0.1:${a.ext}`);
    for (let i = 0; i < 60; i++) {
      const s = envoy.open();
      s.send(requestHeadersMsg({ ':path': '/chat', ':method': 'POST', ':authority': 'x' }));
      await s.next();
      s.send(responseHeadersMsg({ ':status': '200' }));
      await s.next();
      s.end();
    }
    envoy.close();
    expect(await samples(a.admin)).toBe(60);
    const peerSees = () => peer!.engine.armSummary(peer!.engine.route('chat')!).reduce((t, s) => t + s.stats.n, 0);
    await waitFor(() => peerSees() === 60, 5000, 'the peer holds replica-a’s slot');

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    child = startChild(aConfig);
    await waitFor(() => fetch(`http://127.0.0.1:${a.admin}/readyz`).then((r) => r.ok, () => false), 15_000, 'restarted replica-a ready');
    expect(await samples(a.admin)).toBe(60);
    expect(peerSees()).toBe(60);
  });
});
