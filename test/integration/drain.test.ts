/**
 * SIGTERM drains the `serve` process (contract section 1): it stops taking
 * ext_proc streams, flushes rewards to the aggregator, writes its state
 * snapshot and exits 0 within 10 s. Runs the built CLI (`npm test` builds first).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AggregatorServer } from '../../src/aggregator/server.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/util/logger.js';
import { createFakeEnvoy, requestHeadersMsg, responseHeadersMsg } from '../support/extproc-client.js';
import { freePort } from '../support/ports.js';

const ROOT = join(import.meta.dirname, '..', '..');
const REQUESTS = 40;

describe('SIGTERM on envoy-bandit serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-drain-'));
  let agg: AggregatorServer | undefined;
  afterAll(async () => {
    await agg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('flushes rewards to the aggregator, writes the snapshot and exits 0 within 10 s', async () => {
    const aggPort = await freePort();
    const aggCfg = parseConfig(
      `replica_id: aggregator\nlisten: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }\nroutes: [{ name: chat, arms: [{ name: a, cluster: a }] }]\naggregator: { address: 127.0.0.1:${aggPort}, log_file: ${dir}/rewards.jsonl }\n`,
      { env: {} },
    );
    if (!aggCfg.ok) throw new Error(JSON.stringify(aggCfg.error));
    agg = new AggregatorServer({ config: aggCfg.value, logger: silentLogger() });
    await agg.start();

    const ext = await freePort();
    const admin = await freePort();
    const config = join(dir, 'replica.yaml');
    // A long flush and a large batch: nothing is sent before the drain flushes it.
    writeFileSync(
      config,
      `replica_id: drainer
listen: { ext_proc: 127.0.0.1:${ext}, admin: 127.0.0.1:${admin} }
routes:
  - name: chat
    match: { path_prefix: /chat }
    arms: [{ name: model-a, cluster: model_a }, { name: model-b, cluster: model_b }]
aggregator: { address: 127.0.0.1:${aggPort}, batch: 1000, flush: 1h, buffer: 10000 }
state: { snapshot_file: ${dir}/slot.json, interval: 1h }
log: { level: warn }
`,
    );
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'envoy-bandit.js'), 'serve', '--config', config], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    while (!(await fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error('serve did not become ready');
      await new Promise((r) => setTimeout(r, 50));
    }
    const envoy = createFakeEnvoy(`127.0.0.1:${ext}`);
    for (let i = 0; i < REQUESTS; i++) {
      const s = envoy.open();
      s.send(requestHeadersMsg({ ':path': '/chat' }));
      await s.next();
      s.send(responseHeadersMsg({ ':status': '200' }));
      await s.next();
      s.end();
    }
    envoy.close();
    expect(agg.summary().rewards).toBe(0);

    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    const drainMs = Date.now() - t0;
    console.log(`[drain] exited ${code} ${drainMs} ms after SIGTERM`);
    // serve exits 2 when its drain overruns the contract's 10 s, so 0 also means "within 10 s".
    expect(code).toBe(0);
    expect(agg.summary().rewards).toBe(REQUESTS);
    expect(existsSync(join(dir, 'slot.json'))).toBe(true);
    const slot = JSON.parse(readFileSync(join(dir, 'slot.json'), 'utf8')) as { slot: { routes: Record<string, Record<string, { n: number }>> } };
    const n = Object.values(slot.slot.routes.chat!).reduce((t, s) => t + s.n, 0);
    expect(n).toBe(REQUESTS);
  });
});
