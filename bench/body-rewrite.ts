/**
 * What the per-arm `model` rewrite costs: the same request through the same
 * Envoy (envoy/openai-compatible.yaml) and sidecar, on a route where Envoy
 * buffers the body and the sidecar rewrites `model` (/v1/…) against a
 * headers-only route to the same backends (/h/…), interleaved rounds, medians.
 * Load by `envoy-bandit loadtest` in its own process; Envoy and the sidecar
 * pinned to one core, the load tool and the backends to the other (taskset,
 * when there are two cores).
 *
 *   npm run build && node dist/bench/body-rewrite.js
 */
import { spawn, spawnSync } from 'node:child_process';
import { get } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { binScript, packageRoot } from '../src/tools/demo/paths.js';
import { ProcessGroup } from '../src/tools/demo/procs.js';
import type { LoadtestReport } from '../src/tools/loadtest/report.js';
import { findEnvoyBinary } from '../src/util/envoy-binary.js';
import { freePort } from '../src/util/free-port.js';
import { runIfMain } from './main.js';

export interface BodyRewriteOptions {
  rps?: number;
  seconds?: number;
  rounds?: number;
  bodyBytes?: number[];
}

export interface BodyRewriteRow {
  bodyBytes: number;
  rewrite: { p50: number; p99: number };
  headersOnly: { p50: number; p99: number };
  rewritten: number;
}

const DEFAULTS = { rps: 200, seconds: 5, rounds: 3, bodyBytes: [1024, 65536] } as const;

const BACKENDS_SCRIPT = `
import { createServer } from 'node:http';
for (const port of JSON.parse(process.argv[1])) {
  createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); }); }).listen(port, '127.0.0.1');
}
process.stdout.write('ready\\n');
`;

/** GET on a new connection: fetch's pooled one may have been closed by the admin server's keep-alive timeout meanwhile. */
function getFresh(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function chatBody(bytes: number): string {
  const base = { model: 'client-model', messages: [{ role: 'user', content: '' }], max_tokens: 16 };
  const pad = Math.max(0, bytes - JSON.stringify(base).length);
  base.messages[0]!.content = 'x'.repeat(pad);
  return JSON.stringify(base);
}

export async function runBodyRewriteBench(opts: BodyRewriteOptions = {}): Promise<BodyRewriteRow[]> {
  const o = { ...DEFAULTS, ...opts };
  const root = packageRoot();
  const pin = availableParallelism() >= 2 && spawnSync('sh', ['-c', 'command -v taskset']).status === 0;
  const on = (core: number, cmd: string, args: string[]): [string, string[]] => (pin ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args]);
  const dir = mkdtempSync(join(tmpdir(), 'eb-body-'));
  mkdirSync(join(dir, 'logs'));
  const group = new ProcessGroup();
  try {
    const backendPorts = [await freePort(), await freePort()];
    const [bcmd, bargs] = on(1, process.execPath, ['--input-type=module', '-e', BACKENDS_SCRIPT, JSON.stringify(backendPorts)]);
    const backends = spawn(bcmd, bargs, { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => backends.stdout!.once('data', () => resolve()));

    const extProc = await freePort();
    const admin = await freePort();
    const cfg = join(dir, 'sidecar.yaml');
    writeFileSync(cfg, `replica_id: bench
listen: { ext_proc: 127.0.0.1:${extProc}, admin: 127.0.0.1:${admin} }
log: { level: warn }
routes:
  - name: rewrite
    match: { path_prefix: /v1/ }
    body_rewrite: { max_bytes: 1048576 }
    arms:
      - { name: llama, cluster: vllm_llama, rewrite: { model: llama-served } }
      - { name: qwen, cluster: tgi_qwen, rewrite: { model: qwen-served } }
    guardrails: null
  - name: headers
    match: { path_prefix: /h/ }
    arms:
      - { name: llama, cluster: vllm_llama }
      - { name: qwen, cluster: tgi_qwen }
    guardrails: null
`);
    const [scmd, sargs] = on(0, process.execPath, [binScript(root), 'serve', '--config', cfg]);
    group.spawn('sidecar', scmd, sargs, { logFile: join(dir, 'logs', 'sidecar.log') });
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    /* eslint-disable @typescript-eslint/no-explicit-any -- editing an untyped YAML tree */
    const doc: any = parse(readFileSync(join(root, 'envoy', 'openai-compatible.yaml'), 'utf8'));
    const listenerPort = await freePort();
    const envoyAdmin = await freePort();
    doc.admin.address.socket_address.port_value = envoyAdmin;
    doc.static_resources.listeners[0].address.socket_address = { address: '127.0.0.1', port_value: listenerPort };
    const ports: Record<string, number> = { envoy_bandit: extProc, vllm_llama: backendPorts[0]!, tgi_qwen: backendPorts[1]! };
    for (const c of doc.static_resources.clusters) c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address = { socket_address: { address: '127.0.0.1', port_value: ports[c.name] } };
    /* eslint-enable @typescript-eslint/no-explicit-any */
    const envoyFile = join(dir, 'envoy.yaml');
    writeFileSync(envoyFile, stringify(doc));
    const [ecmd, eargs] = on(0, findEnvoyBinary(), ['-c', envoyFile, '--base-id', String((process.pid % 100_000) * 10 + 3), '--concurrency', '1', '-l', 'warning', '--disable-hot-restart']);
    group.spawn('envoy', ecmd, eargs, { logFile: join(dir, 'logs', 'envoy.log') });
    for (let i = 0; i < 200; i++) {
      if ((await fetch(`http://127.0.0.1:${envoyAdmin}/ready`).then((r) => r.text(), () => '')).trim() === 'LIVE') break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const load = (path: string, bodyFile: string, seconds: number): LoadtestReport => {
      const [lcmd, largs] = on(1, process.execPath, [binScript(root), 'loadtest', '--target', `http://127.0.0.1:${listenerPort}${path}`, '--rps', String(o.rps), '--duration', `${seconds}s`, '--concurrency', '64', '--sessions', '0', '--body', bodyFile, '--json']);
      const r = spawnSync(lcmd, largs, { encoding: 'utf8', timeout: (seconds + 60) * 1000 });
      if (r.status !== 0) throw new Error(`loadtest ${path} exited ${r.status}: ${r.stderr}`);
      const rep = JSON.parse(r.stdout) as LoadtestReport;
      if (rep.failed > 0) throw new Error(`loadtest ${path}: ${rep.failed} failed requests`);
      return rep;
    };
    const overall = (rep: LoadtestReport, q: 'p50' | 'p99') => median(rep.arms.map((a) => a.latency_ms[q]!));
    const rewrittenTotal = async () => {
      const text = await getFresh(`http://127.0.0.1:${admin}/metrics`);
      return [...text.matchAll(/envoy_bandit_body_rewrites_total\{[^}]*outcome="rewritten"[^}]*\} (\d+)/g)].reduce((t, m) => t + Number(m[1]), 0);
    };

    const rows: BodyRewriteRow[] = [];
    for (const bytes of o.bodyBytes) {
      const bodyFile = join(dir, `body-${bytes}.json`);
      writeFileSync(bodyFile, chatBody(bytes));
      load('/v1/chat/completions', bodyFile, 2);
      load('/h/chat/completions', bodyFile, 2);
      const before = await rewrittenTotal();
      const f = { rw50: [] as number[], rw99: [] as number[], h50: [] as number[], h99: [] as number[] };
      for (let round = 0; round < o.rounds; round++) {
        const rw = load('/v1/chat/completions', bodyFile, o.seconds);
        const h = load('/h/chat/completions', bodyFile, o.seconds);
        f.rw50.push(overall(rw, 'p50'));
        f.rw99.push(overall(rw, 'p99'));
        f.h50.push(overall(h, 'p50'));
        f.h99.push(overall(h, 'p99'));
      }
      rows.push({ bodyBytes: bytes, rewrite: { p50: median(f.rw50), p99: median(f.rw99) }, headersOnly: { p50: median(f.h50), p99: median(f.h99) }, rewritten: (await rewrittenTotal()) - before });
    }
    backends.kill('SIGTERM');
    return rows;
  } finally {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatBodyRewriteRows(rows: BodyRewriteRow[]): string {
  const f = (x: number) => x.toFixed(2).padStart(7);
  return [
    'body      rewrite p50/p99 ms   headers-only p50/p99 ms   added p50/p99 ms   bodies rewritten',
    ...rows.map((r) => `${String(r.bodyBytes).padStart(6)} B  ${f(r.rewrite.p50)} ${f(r.rewrite.p99)}     ${f(r.headersOnly.p50)} ${f(r.headersOnly.p99)}          ${f(r.rewrite.p50 - r.headersOnly.p50)} ${f(r.rewrite.p99 - r.headersOnly.p99)}   ${r.rewritten}`),
  ].join('\n');
}

runIfMain(import.meta.url, () => runBodyRewriteBench(), formatBodyRewriteRows);
