/**
 * Requests through Envoy + envoy-bandit against Envoy with native
 * `weighted_clusters` to the same three backends, same load tool, same run:
 *
 * - throughput: `wrk` closed loop at fixed connections, requests/s of each;
 * - added latency: `hey` at a fixed, moderate request rate (so queueing does
 *   not dominate), p50 and p99 of each, and the difference.
 *
 * Everything is a separate process on 127.0.0.1 (backends, Envoy with one
 * worker, the sidecar), as in a pod; the machine has 2 cores, so the load
 * tool competes with Envoy and the sidecar — the ratio is measured under the
 * same contention for both setups.
 *
 *   npm run build && node dist/bench/envoy-e2e.js
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';
import { renderEnvoyYaml, startDemoEnvoy } from '../src/tools/demo/envoy.js';
import { binScript, packageRoot } from '../src/tools/demo/paths.js';
import { ProcessGroup } from '../src/tools/demo/procs.js';
import { findEnvoyBinary } from '../src/util/envoy-binary.js';
import { freePort } from '../src/util/free-port.js';

export interface E2eOptions {
  /** Seconds of wrk per setup. */
  throughputSeconds?: number;
  wrkConnections?: number;
  /** Seconds of hey per setup. */
  latencySeconds?: number;
  /** Total request rate for the latency runs. */
  latencyRps?: number;
  /** Alternating rounds (bandit, native) — medians are reported. */
  rounds?: number;
}

export interface E2eSetupFigures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

export interface E2eResult {
  bandit: E2eSetupFigures;
  native: E2eSetupFigures;
  throughputRatio: number;
  addedP50Ms: number;
  addedP99Ms: number;
  rounds: number;
}

const DEFAULTS = { throughputSeconds: 8, wrkConnections: 16, latencySeconds: 8, latencyRps: 400, rounds: 3 } as const;
const CLUSTERS = ['model_a', 'model_b', 'model_c'] as const;

const BACKENDS_SCRIPT = `
import { createServer } from 'node:http';
const ports = JSON.parse(process.argv[1]);
for (const [i, port] of ports.entries()) {
  createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"model":' + i + '}'); }); }).listen(port, '127.0.0.1');
}
process.stdout.write('ready\\n');
`;

/** envoy/envoy.yaml turned into the baseline: no ext_proc, one route with weighted_clusters. */
/* eslint-disable @typescript-eslint/no-explicit-any -- walking an untyped YAML tree */
export function nativeWeightedYaml(banditYaml: string): string {
  const doc: any = parse(banditYaml);
  const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  hcm.http_filters = hcm.http_filters.filter((f: any) => !String(f.name).includes('ext_proc'));
  const vh = hcm.route_config.virtual_hosts[0];
  vh.routes = [
    {
      match: { prefix: '/' },
      route: { weighted_clusters: { clusters: CLUSTERS.map((name) => ({ name, weight: 1 })) }, timeout: '0s' },
    },
  ];
  return stringify(doc);
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The benches' sidecar: one Thompson route over three arms; `accessLog` takes outcomes from Envoy's access log. */
export function sidecarYaml(extProcPort: number, adminPort: number, opts: { replicaId?: string; accessLog?: boolean } = {}): string {
  return `replica_id: ${opts.replicaId ?? 'bench'}
listen: { ext_proc: 127.0.0.1:${extProcPort}, admin: 127.0.0.1:${adminPort} }
log: { level: warn }
${opts.accessLog ? 'outcomes: { source: access_log }\n' : ''}routes:
  - name: chat
    match: { path_prefix: / }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    policy: { type: thompson }
`;
}

function parseWrk(out: string): number {
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`could not read wrk output:\n${out}`);
  return Number(m[1]);
}

function parseHey(out: string): { p50Ms: number; p99Ms: number; errors: number } {
  const pct = (p: number) => {
    const m = new RegExp(`\\s${p}% in ([\\d.]+) secs`).exec(out);
    if (!m) throw new Error(`could not read hey output:\n${out}`);
    return Number(m[1]) * 1000;
  };
  const non200 = [...out.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)].filter((m) => m[1] !== '200').reduce((t, m) => t + Number(m[2]), 0);
  return { p50Ms: pct(50), p99Ms: pct(99), errors: non200 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return r.stdout;
}

export async function runEnvoyE2eBench(opts: E2eOptions = {}): Promise<E2eResult> {
  const o = { ...DEFAULTS, ...opts };
  const root = packageRoot();
  const envoyBin = findEnvoyBinary();
  for (const tool of ['wrk', 'hey']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} not found: apt-get install -y ${tool}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'eb-e2e-'));
  mkdirSync(join(dir, 'logs'));
  const group = new ProcessGroup();
  try {
    const backendPorts = await Promise.all(CLUSTERS.map(() => freePort()));
    const backends = spawn(process.execPath, ['--input-type=module', '-e', BACKENDS_SCRIPT, JSON.stringify(backendPorts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => backends.stdout!.once('data', () => resolve()));
    const clusters = Object.fromEntries(CLUSTERS.map((c, i) => [c, backendPorts[i]!]));

    const extProcPort = await freePort();
    const sidecarAdmin = await freePort();
    const cfg = join(dir, 'bandit.yaml');
    writeFileSync(cfg, sidecarYaml(extProcPort, sidecarAdmin));
    // EB_BENCH_SIDECAR_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the sidecar under this load.
    const nodeArgs = (process.env.EB_BENCH_SIDECAR_NODE_ARGS ?? '').split(' ').filter(Boolean);
    group.spawn('sidecar', process.execPath, [...nodeArgs, binScript(root), 'serve', '--config', cfg, '--seed', '1'], { logFile: join(dir, 'sidecar.log') });
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://127.0.0.1:${sidecarAdmin}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const banditPorts = { listener: await freePort(), admin: await freePort(), extProc: extProcPort, clusters };
    const bandit = await startDemoEnvoy(group, { binary: envoyBin, root, dir, index: 0, ports: banditPorts, timeoutMs: 20_000 });
    const nativePorts = { listener: await freePort(), admin: await freePort(), extProc: extProcPort, clusters };
    // Start the baseline from the same rendered file, minus ext_proc, with weighted clusters.
    const nativeFile = join(dir, 'envoy-native.yaml');
    writeFileSync(nativeFile, nativeWeightedYaml(renderEnvoyYaml(root, nativePorts)));
    group.spawn('envoy-native', envoyBin, ['-c', nativeFile, '--base-id', String((process.pid % 100_000) * 10 + 7), '--concurrency', '1', '-l', 'warning', '--disable-hot-restart'], { logFile: join(dir, 'envoy-native.log') });
    for (let i = 0; i < 200; i++) {
      const live = await fetch(`http://127.0.0.1:${nativePorts.admin}/ready`).then((r) => r.text(), () => '');
      if (live.trim() === 'LIVE') break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const url = (port: number) => `http://127.0.0.1:${port}/v1/chat/completions`;
    // Warm both paths (JIT, connection pools) before measuring.
    run('hey', ['-n', '2000', '-c', '8', url(bandit.port)]);
    run('hey', ['-n', '2000', '-c', '8', url(nativePorts.listener)]);

    const figures = { bandit: { rps: [] as number[], p50: [] as number[], p99: [] as number[] }, native: { rps: [] as number[], p50: [] as number[], p99: [] as number[] } };
    const perWorkerRate = String(Math.max(1, Math.round(o.latencyRps / 8)));
    for (let round = 0; round < o.rounds; round++) {
      for (const [name, port] of [['bandit', bandit.port], ['native', nativePorts.listener]] as const) {
        figures[name].rps.push(parseWrk(run('wrk', ['-t1', `-c${o.wrkConnections}`, `-d${o.throughputSeconds}s`, url(port)])));
        const hey = parseHey(run('hey', ['-z', `${o.latencySeconds}s`, '-c', '8', '-q', perWorkerRate, url(port)]));
        if (hey.errors > 0) throw new Error(`${name}: ${hey.errors} non-200 responses during the latency run`);
        figures[name].p50.push(hey.p50Ms);
        figures[name].p99.push(hey.p99Ms);
      }
    }
    backends.kill('SIGTERM');
    const b = { rps: median(figures.bandit.rps), p50Ms: median(figures.bandit.p50), p99Ms: median(figures.bandit.p99) };
    const n = { rps: median(figures.native.rps), p50Ms: median(figures.native.p50), p99Ms: median(figures.native.p99) };
    return { bandit: b, native: n, throughputRatio: b.rps / n.rps, addedP50Ms: b.p50Ms - n.p50Ms, addedP99Ms: b.p99Ms - n.p99Ms, rounds: o.rounds };
  } finally {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatE2eResult(r: E2eResult): string {
  const f = (x: number) => x.toFixed(3);
  return [
    `setup                         requests/s (wrk)   p50 ms (hey)   p99 ms (hey)`,
    `Envoy + envoy-bandit          ${r.bandit.rps.toFixed(0).padStart(16)}   ${f(r.bandit.p50Ms).padStart(12)}   ${f(r.bandit.p99Ms).padStart(12)}`,
    `Envoy weighted_clusters       ${r.native.rps.toFixed(0).padStart(16)}   ${f(r.native.p50Ms).padStart(12)}   ${f(r.native.p99Ms).padStart(12)}`,
    `throughput ratio ${r.throughputRatio.toFixed(3)}x (target >= 0.75x); added p50 ${f(r.addedP50Ms)} ms (target <= 0.25), added p99 ${f(r.addedP99Ms)} ms (target <= 1); medians of ${r.rounds} alternating rounds`,
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  runEnvoyE2eBench().then(
    (r) => console.log(formatE2eResult(r)),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
