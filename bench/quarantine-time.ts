/**
 * Time to quarantine a failing arm at 200 req/s, for each outcome source, and
 * the reward delay that source adds:
 *
 *   two-phase   envoy/envoy.yaml, `outcomes.source: response_headers`: the
 *               outcome is read on the response-headers phase of the stream;
 *   access_log  envoy/envoy-accesslog.yaml, `outcomes.source: access_log`: the
 *               outcome arrives in Envoy's batched gRPC access log.
 *
 * Real Envoy (1 worker), the sidecar in this process, two backends in this
 * process (50 ms each), open-loop load from vegeta at 200 req/s. After a
 * warm-up, backend model_b switches from 0 % to 50 % errors (500); the time
 * to quarantine is from that switch to the guardrail's trip log line. The
 * route is the guardrails integration test's (static 50/50, so every shift is
 * the guardrails' doing). Reward delay: for each request, from the backend
 * finishing its response to the sidecar holding that request's outcome
 * (response-headers phase, or its access-log entry arriving). Modes alternate;
 * figures are per round and medians. Nothing asserts.
 *
 *   npm run bench -- --only quarantine
 *   node dist/bench/quarantine-time.js [--rounds 2]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { parseConfig } from '../src/config/load.js';
import type { AccessLogEntry, HeaderList, StreamContext } from '../src/extproc/handler.js';
import { Sidecar } from '../src/runtime/sidecar.js';
import { renderEnvoyYaml } from '../src/tools/demo/envoy.js';
import { packageRoot } from '../src/tools/demo/paths.js';
import { ProcessGroup } from '../src/tools/demo/procs.js';
import { findEnvoyBinary } from '../src/util/envoy-binary.js';
import { freePort } from '../src/util/free-port.js';

export const QUARANTINE_MODES = ['two-phase', 'access_log'] as const;
export type QuarantineMode = (typeof QUARANTINE_MODES)[number];

export interface QuarantineBenchOptions {
  rounds?: number;
  rps?: number;
  warmupMs?: number;
  /** Give up on a trial after this long without a trip. */
  maxWaitMs?: number;
  log?: (line: string) => void;
}

export interface QuarantineModeFigures {
  /** Per round, ms from the switch to the trip (NaN: no trip within maxWaitMs). */
  timesMs: number[];
  /** Reward delay percentiles over all rounds (ms). */
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
}

export interface QuarantineBenchResult {
  modes: Record<QuarantineMode, QuarantineModeFigures>;
  rps: number;
  rounds: number;
  load: number[];
}

const DEFAULTS = { rounds: 2, rps: 200, warmupMs: 11_000, maxWaitMs: 8_000 } as const;
const BACKEND_LATENCY_MS = 50;
const FAILING_ERROR_RATE = 0.5;

const configYaml = (mode: QuarantineMode) => `
replica_id: quarantine-bench
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
outcomes: { source: ${mode === 'access_log' ? 'access_log' : 'response_headers'} }
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
    default_arm: model-a
    policy: { type: static, weights: { model-a: 0.5, model-b: 0.5 }, min_share: 0.05 }
    sticky: null
    reward: { weights: { success: 1, latency: 0, header: 0, cost: 0 } }
    guardrails: { window: 4s, min_samples: 30, cooldown: 3s, latency_p95: { max: 2s } }
`;

interface TestBackend {
  server: Server;
  port: number;
  errorRate: number;
  /** decision id → when the response was finished (ms, performance.now()). */
  doneAt: Map<string, number>;
}

async function startBackend(seed: number): Promise<TestBackend> {
  let x = seed >>> 0 || 1;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const b: TestBackend = { server: createServer(), port: 0, errorRate: 0, doneAt: new Map() };
  b.server.on('request', (req, res) => {
    req.resume();
    const id = req.headers['x-bandit-decision-id'];
    setTimeout(() => {
      const fail = rand() < b.errorRate;
      res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' });
      res.end(fail ? '{"error":"injected"}' : '{"ok":true}', () => {
        if (typeof id === 'string') b.doneAt.set(id, performance.now());
      });
    }, BACKEND_LATENCY_MS);
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function trial(mode: QuarantineMode, o: Required<Omit<QuarantineBenchOptions, 'log'>>, dir: string, round: number): Promise<{ ms: number; delays: number[] }> {
  const root = packageRoot();
  const a = await startBackend(1 + round);
  const b = await startBackend(101 + round);
  const group = new ProcessGroup();
  let tripAt = NaN;
  const logger = pino({ level: 'warn' }, {
    write: (line: string) => {
      if (line.includes('guardrail trip; arm quarantined') && Number.isNaN(tripAt)) tripAt = performance.now();
    },
  });
  const cfg = parseConfig(configYaml(mode), { env: {} });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
  const sidecar = await Sidecar.create({ config: cfg.value, logger, seed: 5 + round, env: {} });
  // Where each request's outcome reaches the sidecar.
  const seenAt = new Map<string, number>();
  const h = sidecar.handler;
  if (mode === 'access_log') {
    const orig = h.onAccessLog.bind(h);
    h.onAccessLog = (entries: readonly AccessLogEntry[]) => {
      const now = performance.now();
      for (const e of entries) {
        const id = e.requestHeaders.get('x-bandit-decision-id');
        if (id) seenAt.set(id, now);
      }
      orig(entries);
    };
  } else {
    const orig = h.onResponseHeaders.bind(h);
    h.onResponseHeaders = (headers: HeaderList, stream: StreamContext<never>) => {
      const id = (stream.decision as { id?: string } | undefined)?.id;
      if (id) seenAt.set(id, performance.now());
      return orig(headers, stream);
    };
  }
  try {
    await sidecar.start();
    const extPort = Number(sidecar.addresses.extProc.slice(sidecar.addresses.extProc.lastIndexOf(':') + 1));
    const ports = { listener: await freePort(), admin: await freePort(), extProc: extPort, clusters: { model_a: a.port, model_b: b.port } };
    const template = join(root, 'envoy', mode === 'access_log' ? 'envoy-accesslog.yaml' : 'envoy.yaml');
    const file = join(dir, `envoy-${mode}-${round}.yaml`);
    // The shipped files have a third arm; this route uses two, so model_c points at model_a's backend.
    writeFileSync(file, renderEnvoyYaml(root, { ...ports, clusters: { ...ports.clusters, model_c: a.port } }, template));
    const envoy = group.spawn('envoy', 'taskset', ['-c', '1', findEnvoyBinary(), '-c', file, '--base-id', String((process.pid % 100_000) * 10 + 8), '--concurrency', '1', '-l', 'warning', '--disable-hot-restart'], {
      logFile: join(dir, `envoy-${mode}-${round}.log`),
    });
    for (let i = 0; ; i++) {
      if (envoy.done || i > 200) throw new Error(`envoy (${mode}) did not start; see ${dir}`);
      const live = await fetch(`http://127.0.0.1:${ports.admin}/ready`).then((r) => r.text(), () => '');
      if (live.trim() === 'LIVE') break;
      await sleep(100);
    }
    const targets = join(dir, 'targets.txt');
    writeFileSync(targets, `GET http://127.0.0.1:${ports.listener}/v1/chat/completions\n`);
    const seconds = Math.ceil((o.warmupMs + o.maxWaitMs) / 1000) + 1;
    const vegeta = spawn('taskset', ['-c', '0', join(root, '.tools', 'bin', 'vegeta'), 'attack', `-targets=${targets}`, `-rate=${o.rps}/s`, `-duration=${seconds}s`, '-output=/dev/null'], { stdio: 'ignore' });
    try {
      await sleep(o.warmupMs);
      const switchAt = performance.now();
      b.errorRate = FAILING_ERROR_RATE;
      while (Number.isNaN(tripAt) && performance.now() - switchAt < o.maxWaitMs) await sleep(5);
      const delays: number[] = [];
      for (const be of [a, b]) {
        for (const [id, done] of be.doneAt) {
          const seen = seenAt.get(id);
          if (seen !== undefined) delays.push(Math.max(0, seen - done));
        }
      }
      return { ms: tripAt - switchAt, delays };
    } finally {
      vegeta.kill('SIGTERM');
    }
  } finally {
    await group.stopAll();
    await sidecar.stop(500);
    a.server.close();
    b.server.close();
    a.server.closeAllConnections();
    b.server.closeAllConnections();
  }
}

export async function runQuarantineBench(opts: QuarantineBenchOptions = {}): Promise<QuarantineBenchResult> {
  const o = { rounds: opts.rounds ?? DEFAULTS.rounds, rps: opts.rps ?? DEFAULTS.rps, warmupMs: opts.warmupMs ?? DEFAULTS.warmupMs, maxWaitMs: opts.maxWaitMs ?? DEFAULTS.maxWaitMs };
  const log = opts.log ?? ((l: string) => console.log(l));
  if (spawnSync('sh', ['-c', `command -v ${join(packageRoot(), '.tools', 'bin', 'vegeta')}`]).status !== 0) throw new Error('vegeta not found: node scripts/setup.mjs --bench');
  const dir = mkdtempSync(join(tmpdir(), 'eb-quarantine-'));
  const times: Record<QuarantineMode, number[]> = { 'two-phase': [], access_log: [] };
  const delays: Record<QuarantineMode, number[]> = { 'two-phase': [], access_log: [] };
  try {
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? QUARANTINE_MODES : [...QUARANTINE_MODES].reverse();
      for (const mode of order) {
        const t = await trial(mode, o, dir, round);
        times[mode].push(t.ms);
        delays[mode].push(...t.delays);
        log(`round ${round + 1} ${mode.padEnd(10)} quarantined ${Number.isNaN(t.ms) ? `not within ${o.maxWaitMs} ms` : `${t.ms.toFixed(0)} ms`} after the switch; reward delay p50 ${percentile(t.delays, 50).toFixed(1)} ms, p99 ${percentile(t.delays, 99).toFixed(1)} ms (${t.delays.length} requests)`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fig = (m: QuarantineMode): QuarantineModeFigures => ({
    timesMs: times[m],
    delayP50Ms: percentile(delays[m], 50),
    delayP99Ms: percentile(delays[m], 99),
    delayMaxMs: percentile(delays[m], 100),
  });
  return { modes: { 'two-phase': fig('two-phase'), access_log: fig('access_log') }, rps: o.rps, rounds: o.rounds, load: loadavg() };
}

export function formatQuarantineResult(r: QuarantineBenchResult): string {
  const lines = [`${r.rps} req/s, one arm 0 % → ${FAILING_ERROR_RATE * 100} % errors; ${r.rounds} rounds per mode; load average ${r.load.map((x) => x.toFixed(1)).join(' ')}`, 'mode         time to quarantine (ms, per round)   reward delay p50 / p99 / max (ms)'];
  for (const m of QUARANTINE_MODES) {
    const f = r.modes[m];
    lines.push(`${m.padEnd(12)} ${f.timesMs.map((t) => (Number.isNaN(t) ? 'none' : t.toFixed(0))).join(', ').padEnd(36)} ${f.delayP50Ms.toFixed(1)} / ${f.delayP99Ms.toFixed(1)} / ${f.delayMaxMs.toFixed(1)}`);
  }
  lines.push('target: time to quarantine <= 500 ms in each mode');
  return lines.join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const i = process.argv.indexOf('--rounds');
  runQuarantineBench(i >= 0 ? { rounds: Number(process.argv[i + 1]) } : {}).then(
    (r) => console.log(formatQuarantineResult(r)),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
