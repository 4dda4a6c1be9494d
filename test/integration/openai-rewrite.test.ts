/**
 * Per-arm request rewrites behind real Envoy, with the OpenAI-compatible
 * recipe (envoy/openai-compatible.yaml) and two fake model servers that each
 * answer only their own served model name (one "llama-a", one "qwen-b"), as
 * vLLM does. With the body rewrite every request succeeds on whichever arm
 * serves it; without it the wrong name is learned as the arm's failure; a body
 * over the limit passes unchanged and is counted; SSE streams pass through.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { REPO_ROOT, startEnvoy, type RunningEnvoy } from '../support/envoy.js';
import { startOpenAiBackend, type OpenAiBackend } from '../support/openai-backend.js';

const SECRET = 'sk-test-llama-0123456789';
const MAX_BYTES = 4096;

const config = (dir: string) => `
replica_id: it-openai
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
decision_ids: { secret_file: ${dir}/key }
routes:
  - name: rewrite
    match: { path_prefix: /v1/chat/completions }
    body_rewrite: { max_bytes: ${MAX_BYTES} }
    arms:
      - name: llama
        cluster: vllm_llama
        rewrite:
          model: llama-a
          headers: { x-served-by-arm: llama }
          secret_headers: { authorization: { file: ${dir}/llama-token, prefix: "Bearer " } }
      - name: qwen
        cluster: tgi_qwen
        rewrite: { model: qwen-b, host: qwen.models.example.com }
    policy: { type: static, weights: { llama: 1, qwen: 1 } }
    sticky: null
    guardrails: null
  - name: plain
    match: { path_prefix: /v1/completions }
    arms:
      - { name: llama, cluster: vllm_llama }
      - { name: qwen, cluster: tgi_qwen }
    policy: { type: thompson, min_share: 0.05 }
    sticky: null
    guardrails: null
    reward: { weights: { success: 1, latency: 0, header: 0, cost: 0 } }
`;

const chat = (model: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, messages: [{ role: 'user', content: 'Say ok.' }], max_tokens: 8, temperature: 0.5, ...extra });

describe('per-arm request rewrites behind real Envoy (OpenAI-compatible recipe)', () => {
  let dir: string;
  let llama: OpenAiBackend;
  let qwen: OpenAiBackend;
  let sidecar: Sidecar;
  let envoy: RunningEnvoy;
  const url = (path: string) => `http://127.0.0.1:${envoy.port}${path}`;
  const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url(path), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: res.status, arm: res.headers.get('x-bandit-arm'), type: res.headers.get('content-type'), text: await res.text() };
  };
  const counter = async (outcome: string) =>
    (await sidecar.metrics.bodyRewrites.get()).values.filter((v) => v.labels.outcome === outcome).reduce((a, v) => a + v.value, 0);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eb-openai-'));
    await writeFile(join(dir, 'key'), 'decision-id-key-0123456789abcdef');
    await writeFile(join(dir, 'llama-token'), `${SECRET}\n`);
    llama = await startOpenAiBackend({ model: 'llama-a', name: 'llama' });
    qwen = await startOpenAiBackend({ model: 'qwen-b', name: 'qwen' });
    const parsed = parseConfig(config(dir), { env: {} });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    sidecar = await Sidecar.create({ config: parsed.value, logger: silentLogger(), seed: 5, env: {} });
    await sidecar.start();
    const a = sidecar.addresses.extProc;
    envoy = await startEnvoy({
      configPath: join(REPO_ROOT, 'envoy', 'openai-compatible.yaml'),
      extProc: { host: '127.0.0.1', port: Number(a.slice(a.lastIndexOf(':') + 1)) },
      clusters: { vllm_llama: llama.port, tgi_qwen: qwen.port },
      // These tests check what reaches the backends, not fail-open timing: a
      // stalled shared machine must not turn decisions into fail-open passes.
      extProcMessageTimeout: '2s',
    });
  }, 30_000);
  afterAll(async () => {
    await envoy?.stop();
    await sidecar?.stop(500);
    await llama?.stop();
    await qwen?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('with the rewrite on, every request succeeds on whichever arm serves it', async () => {
    const before = await counter('rewritten');
    const rs = [];
    for (let i = 0; i < 60; i++) rs.push(await post('/v1/chat/completions', chat(i % 2 ? 'llama-a' : 'whatever-the-client-says')));
    expect(rs.map((r) => r.status)).toEqual(rs.map(() => 200));
    const arms = new Set(rs.map((r) => r.arm));
    expect(arms).toEqual(new Set(['llama', 'qwen']));
    for (const r of rs) expect(JSON.parse(r.text).model).toBe(r.arm === 'llama' ? 'llama-a' : 'qwen-b');
    expect((await counter('rewritten')) - before).toBe(60);
  });

  it('only the model value changes: the rest of the body reaches the backend byte for byte', async () => {
    const body = `{ "messages": [{"role":"user","content":"model: \\"x\\" {}"}],\n  "model" : "client-choice", "n": 1.0, "seed": 12345678901234567890 }`;
    llama.received.length = 0;
    qwen.received.length = 0;
    for (let i = 0; i < 10; i++) expect((await post('/v1/chat/completions', body)).status).toBe(200);
    const got = [...llama.received, ...qwen.received];
    expect(got.length).toBe(10);
    for (const r of got) {
      const served = llama.received.includes(r) ? 'llama-a' : 'qwen-b';
      expect(r.body.toString('utf8')).toBe(body.replace('"client-choice"', `"${served}"`));
    }
  });

  it('each arm gets its own headers: the secret-file token, fixed headers, the virtual host', async () => {
    llama.received.length = 0;
    qwen.received.length = 0;
    for (let i = 0; i < 20; i++) await post('/v1/chat/completions', chat('x'), { authorization: 'Bearer client-token' });
    expect(llama.received.length).toBeGreaterThan(0);
    expect(qwen.received.length).toBeGreaterThan(0);
    for (const r of llama.received) {
      expect(r.headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(r.headers['x-served-by-arm']).toBe('llama');
    }
    for (const r of qwen.received) {
      expect(r.headers.host).toBe('qwen.models.example.com');
      // qwen has no auth rewrite: the client's header passes as sent
      expect(r.headers.authorization).toBe('Bearer client-token');
      expect(r.headers['x-served-by-arm']).toBeUndefined();
    }
  });

  it('streamed responses pass through untouched: every SSE chunk and [DONE] arrive', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await post('/v1/chat/completions', chat('x', { stream: true }));
      expect(r.status).toBe(200);
      expect(r.type).toBe('text/event-stream');
      const events = r.text.split('\n\n').filter((e) => e !== '');
      expect(events.length).toBe(5);
      expect(events.at(-1)).toBe('data: [DONE]');
      const served = r.arm === 'llama' ? 'llama-a' : 'qwen-b';
      events.slice(0, 4).forEach((e, k) => {
        const chunk = JSON.parse(e.slice('data: '.length));
        expect(chunk.model).toBe(served);
        expect(chunk.choices[0].delta.content).toBe(`t${k}`);
      });
    }
  });

  it('loadtest --stream reads each SSE stream to [DONE] and reports time to first byte per arm', async () => {
    const io = captureIo();
    const code = await main(['loadtest', '--target', url('/v1/chat/completions'), '--rps', '40', '--requests', '30', '--stream', '--sessions', '0', '--json', '--max-error-rate', '0'], io);
    const rep = JSON.parse(io.out.join('\n'));
    expect(code).toBe(0);
    expect(rep).toMatchObject({ completed: 30, succeeded: 30, incomplete_streams: 0, stream: true });
    expect(rep.arms.map((a: { arm: string }) => a.arm).sort()).toEqual(['llama', 'qwen']);
    // four chunks 5 ms apart after the first: the first byte comes well before the end
    for (const a of rep.arms) expect(a.ttfb_ms.p50).toBeLessThan(a.latency_ms.p50);
  });

  it('a body over the limit passes unchanged and is counted too_large', async () => {
    const big = chat('llama-a', { messages: [{ role: 'user', content: 'x'.repeat(MAX_BYTES * 2) }] });
    llama.received.length = 0;
    qwen.received.length = 0;
    const before = await counter('too_large');
    const rs = [];
    for (let i = 0; i < 20; i++) rs.push(await post('/v1/chat/completions', big));
    expect((await counter('too_large')) - before).toBe(20);
    // Unchanged: it still names llama-a, so the llama arm answers and the qwen arm refuses.
    for (const r of rs) expect(r.status).toBe(r.arm === 'llama' ? 200 : 404);
    for (const r of [...llama.received, ...qwen.received]) expect(r.body.toString('utf8')).toBe(big);
    expect(llama.received.length + qwen.received.length).toBe(20);
  });

  it('with the rewrite off, the arm whose server does not know the name is learned as failing', async () => {
    const rs = [];
    for (let i = 0; i < 200; i++) rs.push(await post('/v1/completions', JSON.stringify({ model: 'llama-a', prompt: 'hi', max_tokens: 4 })));
    for (const r of rs) expect(r.status).toBe(r.arm === 'llama' ? 200 : 404);
    const route = sidecar.engine.route('plain')!;
    const state = sidecar.state;
    const ri = state.routeIndex('plain')!;
    const mean = (arm: string) => {
      const s = state.fleet(ri, route.armIndex.get(arm)!, { n: 0, sum: 0, sumSq: 0 });
      return { n: s.n, mean: s.sum / s.n };
    };
    expect(mean('qwen').n).toBeGreaterThan(0);
    expect(mean('qwen').mean).toBe(0);
    expect(mean('llama').mean).toBe(1);
    // and traffic follows: the last 100 requests go mostly to llama
    const lastQwen = rs.slice(100).filter((r) => r.arm === 'qwen').length;
    expect(lastQwen).toBeLessThan(20);
  });
});
