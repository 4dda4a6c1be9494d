/**
 * Guardrails blame the right party, end to end: real Envoy (envoy/envoy.yaml)
 * → the in-process Sidecar → three real backends under ~150 rps of open-loop
 * load, static equal split (every shift of traffic is the guardrails' doing).
 * - a client flood of 413s on every backend quarantines nothing;
 * - all three backends slowed together for 2 s quarantine nothing (common mode);
 * - one backend slowed alone is quarantined.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { startBackend, type Backend } from '../support/backend.js';
import { startEnvoy, type RunningEnvoy } from '../support/envoy.js';
import { PacedLoad } from '../support/paced-load.js';

const ROUTE = 'chat';
const RPS = 150;
const ARMS = ['model-a', 'model-b', 'model-c'] as const;
const CONFIG = `
replica_id: blame-it
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
routes:
  - name: ${ROUTE}
    match: { path_prefix: /v1/chat }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    policy: { type: static, weights: { model-a: 1, model-b: 1, model-c: 1 }, min_share: 0.05 }
    sticky: null
    reward: { weights: { success: 1, latency: 0, header: 0, cost: 0 } }
    guardrails: { window: 4s }
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

describe('guardrails behind a real Envoy blame the right party', () => {
  const backends: Record<string, Backend> = {};
  let sidecar: Sidecar;
  let envoy: RunningEnvoy;
  let load: PacedLoad;
  const logs: Array<{ msg: string; [k: string]: unknown }> = [];
  const flagged = () => ARMS.filter((arm) => sidecar.state.activeFlags(ROUTE, arm, Date.now()).length > 0);
  const held = () => logs.filter((l) => l.reason === 'common_mode').length;
  const trips = () => logs.filter((l) => l.msg.startsWith('guardrail trip')).map((l) => `${String(l.arm)} ${String(l.rule)} ${Number(l.value).toFixed(3)} > ${Number(l.limit).toFixed(3)} (${String(l.samples)})`);

  beforeAll(async () => {
    for (const [i, name] of ['model_a', 'model_b', 'model_c'].entries()) backends[name] = await startBackend({ name, seed: i + 1, latencyMs: 50 });
    const cfg = parseConfig(CONFIG, { env: {} });
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
    const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as { msg: string }) });
    sidecar = await Sidecar.create({ config: cfg.value, logger, seed: 5, env: {} });
    await sidecar.start();
    const extPort = Number(sidecar.addresses.extProc.slice(sidecar.addresses.extProc.lastIndexOf(':') + 1));
    envoy = await startEnvoy({ extProc: { host: '127.0.0.1', port: extPort }, clusters: { model_a: backends.model_a!.port, model_b: backends.model_b!.port, model_c: backends.model_c!.port } });
    load = new PacedLoad(`http://127.0.0.1:${envoy.port}/v1/chat/completions`, RPS, RPS * 90);
    load.start();
    // Warm-up: the EWMA baselines learn from buckets leaving the 4 s window (4 s + 5 buckets).
    await sleep(11_000);
  }, 60_000);

  afterAll(async () => {
    await load?.stop();
    await envoy?.stop();
    await sidecar?.stop(1_000);
    for (const b of Object.values(backends)) await b.stop();
  });

  it('a client flooding 413s (half of all requests, every backend) quarantines nothing', async () => {
    expect(load.samples.length).toBeGreaterThan(500);
    const from = Date.now();
    for (const b of Object.values(backends)) Object.assign(b.behaviour, { errorRate: 0.5, errorStatus: 413 });
    await sleep(5_000);
    for (const b of Object.values(backends)) b.behaviour.errorRate = 0;
    const flood = load.between(from, Date.now() - 200);
    console.log(`[blame] 413 flood: ${flood.length} requests, ${flood.filter((s) => s.status === 413).length} answered 413, arms flagged: ${flagged().length}`, trips());
    expect(flood.filter((s) => s.status === 413).length).toBeGreaterThan(100);
    expect(flagged()).toEqual([]);
  });

  it('all three backends slowed together for 2 s quarantine nothing (common mode)', async () => {
    for (const b of Object.values(backends)) b.behaviour.latencyMs = 1000;
    await sleep(2_000);
    for (const b of Object.values(backends)) b.behaviour.latencyMs = 50;
    // The slow responses land and are judged; then they leave the window.
    await sleep(6_000);
    console.log(`[blame] all slowed 2 s: common-mode holds logged ${held()}, arms flagged: ${flagged().length}`, trips());
    expect(flagged()).toEqual([]);
  });

  it('one backend slowed alone for 2 s is quarantined', async () => {
    const b = backends.model_b!;
    const from = Date.now();
    b.behaviour.latencyMs = 1000;
    const early = await until(() => flagged().includes('model-b'), 2_000);
    b.behaviour.latencyMs = 50;
    const tripped = early || (await until(() => flagged().includes('model-b'), 8_000));
    console.log(`[blame] model_b slowed alone: quarantined ${tripped ? `after ${Date.now() - from} ms` : 'never'}`);
    expect(tripped).toBe(true);
    expect(flagged()).toEqual(['model-b']);
  });
});
