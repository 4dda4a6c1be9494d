/**
 * Envoy (1 worker) in front of three backends, five ways, measured side by side
 * in one run:
 *
 *   native     Envoy `weighted_clusters`, no ext_proc (the baseline)
 *   bandit-2p  envoy-bandit, two-phase (envoy/envoy.yaml: request + response headers)
 *   bandit-al  envoy-bandit, request headers only, outcomes from Envoy's gRPC
 *              access log (envoy/envoy-accesslog.yaml, `outcomes.source: access_log`)
 *   go-2p      the Go ext_proc peer (bench/go-peer), same Envoy file as bandit-2p
 *   go-1p      the Go peer, same Envoy file as bandit-al (it also reads the access log)
 *
 * Pinning (`taskset`, 2 cores): every Envoy and every ext_proc server on cpu 1;
 * the load tools (wrk, vegeta) and the backends (eb-go-peer -backends) on cpu 0.
 * So a setup's Envoy and its ext_proc server share one core, as they would in a
 * pod with a one-core limit, and the load never steals from them.
 *
 * Per round, in a rotating order, each setup gets: wrk closed loop (requests/s
 * at saturation; Envoy's and the ext_proc server's CPU from /proc/<pid>/stat
 * utime+stime over the run, per request), then vegeta open loop at 200 and
 * 1,000 req/s (p50/p99; "added" = the setup's minus native's in the same round).
 * Medians over rounds. Nothing asserts; the README quotes the figures.
 *
 *   npm run bench -- --only envoy-peer
 *   node dist/bench/envoy-peer.js [--rounds 3] [--seconds 4] [--setups bandit-2p,go-2p]
 *   EB_BENCH_SIDECAR_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the sidecars.
 *   EB_BENCH_BEFORE_ROOT=/path/to/older/checkout (built) adds 'before-2p': that
 *   version's sidecar, two-phase, in the same run (before/after of a change).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderEnvoyYaml } from '../src/tools/demo/envoy.js';
import { binScript, packageRoot } from '../src/tools/demo/paths.js';
import { ProcessGroup, type TrackedProcess } from '../src/tools/demo/procs.js';
import { findEnvoyBinary } from '../src/util/envoy-binary.js';
import { freePort } from '../src/util/free-port.js';
import { nativeWeightedYaml, sidecarYaml } from './envoy-e2e.js';

export const SETUPS = ['native', 'bandit-2p', 'bandit-al', 'go-2p', 'go-1p', 'before-2p'] as const;
/** Setups run by default; 'before-2p' (an older envoy-bandit checkout, two-phase) only with EB_BENCH_BEFORE_ROOT. */
const DEFAULT_SETUPS: readonly Setup[] = SETUPS.filter((s) => s !== 'before-2p');
export type Setup = (typeof SETUPS)[number];

export interface PeerBenchOptions {
  rounds?: number;
  /** Seconds per measurement (wrk, and each vegeta rate). */
  seconds?: number;
  wrkConnections?: number;
  rates?: readonly number[];
  /** A subset to run (native is always included: added latency is measured against it). */
  setups?: readonly Setup[];
  log?: (line: string) => void;
}

export interface SetupFigures {
  rps: number;
  envoyCpuUsPerReq: number;
  /** NaN for native (no ext_proc server). */
  serverCpuUsPerReq: number;
  /** By rate: median p50/p99 (ms) and median added over native in the same round. */
  latency: Record<number, { p50Ms: number; p99Ms: number; addedP50Ms: number; addedP99Ms: number; errors: number }>;
}

export interface PeerBenchResult {
  /** Setups not run (`setups` option) are absent. */
  figures: Partial<Record<Setup, SetupFigures>> & { native: SetupFigures };
  rounds: number;
  seconds: number;
  loadBefore: number[];
  loadAfter: number[];
  cpus: { envoyAndServers: string; loadAndBackends: string };
}

const DEFAULTS = { rounds: 3, seconds: 4, wrkConnections: 16, rates: [200, 1000] } as const;
const CLUSTERS = ['model_a', 'model_b', 'model_c'] as const;
const CPU_SERVE = '1';
const CPU_LOAD = '0';
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of a process, in µs. */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}

function sh(cmd: string, timeoutMs = 120_000): string {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function wrk(tools: Tools, url: string, seconds: number, connections: number): { rps: number; requests: number; errors: number } {
  const out = sh(`taskset -c ${CPU_LOAD} ${tools.wrk} -t1 -c${connections} -d${seconds}s ${url}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const n = /(\d+) requests in/.exec(out);
  if (!rps || !n) throw new Error(`could not read wrk output:\n${out}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = (non2xx ? Number(non2xx[1]) : 0) + (sock ? sock.slice(1).reduce((t, x) => t + Number(x), 0) : 0);
  return { rps: Number(rps[1]), requests: Number(n[1]), errors };
}

function vegeta(tools: Tools, dir: string, url: string, rate: number, seconds: number): { p50Ms: number; p99Ms: number; errors: number } {
  const targets = join(dir, 'targets.txt');
  writeFileSync(targets, `GET ${url}\n`);
  const out = sh(`taskset -c ${CPU_LOAD} ${tools.vegeta} attack -targets=${targets} -rate=${rate}/s -duration=${seconds}s -timeout=5s | ${tools.vegeta} report -type=json`);
  const r = JSON.parse(out) as { latencies: Record<string, number>; status_codes: Record<string, number>; requests: number };
  const errors = Object.entries(r.status_codes ?? {}).filter(([c]) => c !== '200').reduce((t, [, n]) => t + n, 0);
  return { p50Ms: r.latencies['50th']! / 1e6, p99Ms: r.latencies['99th']! / 1e6, errors };
}

interface Tools {
  wrk: string;
  vegeta: string;
  peer: string;
  envoy: string;
}

function findTools(root: string): Tools {
  const bin = join(root, '.tools', 'bin');
  const need = (p: string, how: string): string => {
    if (spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0) throw new Error(`${p} not found: ${how}`);
    return p;
  };
  need('taskset', 'apt-get install -y util-linux');
  return {
    wrk: need('wrk', 'node scripts/setup.mjs --bench'),
    vegeta: need(join(bin, 'vegeta'), 'node scripts/setup.mjs --bench'),
    peer: need(join(bin, 'eb-go-peer'), 'node scripts/setup.mjs --bench'),
    envoy: findEnvoyBinary(),
  };
}

async function waitFor(what: string, proc: TrackedProcess, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (proc.done) throw new Error(`${what} exited during start`);
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function runEnvoyPeerBench(opts: PeerBenchOptions = {}): Promise<PeerBenchResult> {
  const o = { ...DEFAULTS, ...opts };
  const before = process.env.EB_BENCH_BEFORE_ROOT;
  const all = before ? SETUPS : DEFAULT_SETUPS;
  const active: readonly Setup[] = opts.setups ? all.filter((s) => s === 'native' || opts.setups!.includes(s)) : all;
  const log = opts.log ?? ((l: string) => console.log(l));
  const root = packageRoot();
  const tools = findTools(root);
  const dir = mkdtempSync(join(tmpdir(), 'eb-peer-'));
  mkdirSync(join(dir, 'logs'));
  const group = new ProcessGroup();
  const loadBefore = loadavg();
  try {
    const backendPorts = await Promise.all(CLUSTERS.map(() => freePort()));
    const backends = group.spawn('backends', 'taskset', ['-c', CPU_LOAD, tools.peer, '-backends', backendPorts.map((p) => `127.0.0.1:${p}`).join(',')], { logFile: join(dir, 'logs', 'backends.log') });
    await waitFor('backends', backends, () => fetch(`http://127.0.0.1:${backendPorts[0]}/`).then((r) => r.ok, () => false));
    const clusters = Object.fromEntries(CLUSTERS.map((c, i) => [c, backendPorts[i]!]));

    // ext_proc servers, all on the serving core.
    const nodeArgs = (process.env.EB_BENCH_SIDECAR_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const servers: Record<'bandit-2p' | 'bandit-al' | 'before-2p' | 'go', { port: number; proc: TrackedProcess }> = {} as never;
    for (const mode of (['bandit-2p', 'bandit-al', 'before-2p'] as const).filter((m) => active.includes(m))) {
      const port = await freePort();
      const admin = await freePort();
      const cfg = join(dir, `${mode}.yaml`);
      writeFileSync(cfg, sidecarYaml(port, admin, { replicaId: mode === 'bandit-al' ? 'bench-al' : 'bench-2p', accessLog: mode === 'bandit-al' }));
      const proc = group.spawn(mode, 'taskset', ['-c', CPU_SERVE, process.execPath, ...nodeArgs, binScript(mode === 'before-2p' ? before! : root), 'serve', '--config', cfg, '--seed', '1'], { logFile: join(dir, 'logs', `${mode}.log`) });
      await waitFor(mode, proc, () => fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => r.ok, () => false));
      servers[mode] = { port, proc };
    }
    const goPort = await freePort();
    const go = group.spawn('go-peer', 'taskset', ['-c', CPU_SERVE, tools.peer, '-addr', `127.0.0.1:${goPort}`], { logFile: join(dir, 'logs', 'go-peer.log') });
    servers.go = { port: goPort, proc: go };

    // One Envoy per setup, all on the serving core.
    const twoPhase = join(root, 'envoy', 'envoy.yaml');
    const accessLog = join(root, 'envoy', 'envoy-accesslog.yaml');
    const plan: Record<Setup, { template: string; server: keyof typeof servers | null }> = {
      native: { template: twoPhase, server: null },
      'bandit-2p': { template: twoPhase, server: 'bandit-2p' },
      'bandit-al': { template: accessLog, server: 'bandit-al' },
      'go-2p': { template: twoPhase, server: 'go' },
      'go-1p': { template: accessLog, server: 'go' },
      'before-2p': { template: twoPhase, server: 'before-2p' },
    };
    const envoys = {} as Record<Setup, { port: number; proc: TrackedProcess; server: TrackedProcess | null }>;
    for (const [i, setup] of active.entries()) {
      const p = plan[setup];
      const ports = { listener: await freePort(), admin: await freePort(), extProc: p.server ? servers[p.server].port : goPort, clusters };
      let yaml = renderEnvoyYaml(root, ports, p.template);
      if (!p.server) yaml = nativeWeightedYaml(yaml);
      const file = join(dir, `envoy-${setup}.yaml`);
      writeFileSync(file, yaml);
      const baseId = String((process.pid % 100_000) * 10 + i);
      const proc = group.spawn(`envoy-${setup}`, 'taskset', ['-c', CPU_SERVE, tools.envoy, '-c', file, '--base-id', baseId, '--concurrency', '1', '-l', 'warning', '--disable-hot-restart'], {
        logFile: join(dir, 'logs', `envoy-${setup}.log`),
      });
      await waitFor(`envoy-${setup}`, proc, () => fetch(`http://127.0.0.1:${ports.admin}/ready`).then((r) => r.text().then((t) => t.trim() === 'LIVE'), () => false));
      envoys[setup] = { port: ports.listener, proc, server: p.server ? servers[p.server].proc : null };
    }
    const url = (s: Setup) => `http://127.0.0.1:${envoys[s].port}/v1/chat/completions`;

    // Warm every path (JIT, connection pools) and check each one routes.
    for (const s of active) {
      const w = wrk(tools, url(s), 1, o.wrkConnections);
      if (w.errors > 0) throw new Error(`${s}: ${w.errors} errors while warming up (see ${dir}/logs)`);
    }

    type Raw = { rps: number[]; envoyCpu: number[]; serverCpu: number[]; lat: Record<number, { p50: number[]; p99: number[]; addP50: number[]; addP99: number[]; errors: number }> };
    const raw = Object.fromEntries(
      active.map((s) => [s, { rps: [], envoyCpu: [], serverCpu: [], lat: Object.fromEntries(o.rates.map((r) => [r, { p50: [], p99: [], addP50: [], addP99: [], errors: 0 }])) }]),
    ) as unknown as Record<Setup, Raw>;
    for (let round = 0; round < o.rounds; round++) {
      const order = active.map((_, i) => active[(i + round) % active.length]!);
      const roundLat: Partial<Record<Setup, Record<number, { p50Ms: number; p99Ms: number }>>> = {};
      for (const s of order) {
        const e = envoys[s];
        const e0 = cpuUs(e.proc.pid);
        const s0 = e.server ? cpuUs(e.server.pid) : 0;
        const w = wrk(tools, url(s), o.seconds, o.wrkConnections);
        const envoyCpu = (cpuUs(e.proc.pid) - e0) / w.requests;
        const serverCpu = e.server ? (cpuUs(e.server.pid) - s0) / w.requests : NaN;
        raw[s].rps.push(w.rps);
        raw[s].envoyCpu.push(envoyCpu);
        raw[s].serverCpu.push(serverCpu);
        roundLat[s] = {};
        const lat: string[] = [];
        for (const rate of o.rates) {
          const v = vegeta(tools, dir, url(s), rate, o.seconds);
          raw[s].lat[rate]!.p50.push(v.p50Ms);
          raw[s].lat[rate]!.p99.push(v.p99Ms);
          raw[s].lat[rate]!.errors += v.errors;
          roundLat[s][rate] = v;
          lat.push(`@${rate}/s p50 ${v.p50Ms.toFixed(2)} p99 ${v.p99Ms.toFixed(2)} ms${v.errors ? ` (${v.errors} non-200)` : ''}`);
        }
        log(
          `round ${round + 1} ${s.padEnd(9)} ${w.rps.toFixed(0).padStart(6)} req/s${w.errors ? ` (${w.errors} errors)` : ''}, envoy ${envoyCpu.toFixed(0)} µs/req` +
            `${e.server ? `, server ${serverCpu.toFixed(0)} µs/req` : ''}; ${lat.join('; ')}`,
        );
      }
      for (const s of active) {
        for (const rate of o.rates) {
          raw[s].lat[rate]!.addP50.push(roundLat[s]![rate]!.p50Ms - roundLat.native![rate]!.p50Ms);
          raw[s].lat[rate]!.addP99.push(roundLat[s]![rate]!.p99Ms - roundLat.native![rate]!.p99Ms);
        }
      }
    }
    const figures = Object.fromEntries(
      active.map((s) => {
        const r = raw[s];
        return [
          s,
          {
            rps: median(r.rps),
            envoyCpuUsPerReq: median(r.envoyCpu),
            serverCpuUsPerReq: median(r.serverCpu),
            latency: Object.fromEntries(
              o.rates.map((rate) => {
                const l = r.lat[rate]!;
                return [rate, { p50Ms: median(l.p50), p99Ms: median(l.p99), addedP50Ms: median(l.addP50), addedP99Ms: median(l.addP99), errors: l.errors }];
              }),
            ),
          },
        ];
      }),
    ) as Record<Setup, SetupFigures>;
    return { figures, rounds: o.rounds, seconds: o.seconds, loadBefore, loadAfter: loadavg(), cpus: { envoyAndServers: CPU_SERVE, loadAndBackends: CPU_LOAD } };
  } finally {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatPeerResult(r: PeerBenchResult): string {
  const f = r.figures;
  const n = (x: number | undefined, d = 0) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '—');
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '—');
  const rates = Object.keys(f.native.latency).map(Number);
  const peerOf = (s: Setup): Setup | null => (s === 'bandit-2p' || s === 'before-2p' ? 'go-2p' : s === 'bandit-al' ? 'go-1p' : null);
  const lines = [
    `Envoy + ext_proc server pinned to cpu ${r.cpus.envoyAndServers}; wrk, vegeta and the backends to cpu ${r.cpus.loadAndBackends}; medians of ${r.rounds} interleaved rounds, ${r.seconds} s each`,
    `load average before ${r.loadBefore.map((x) => x.toFixed(1)).join(' ')}, after ${r.loadAfter.map((x) => x.toFixed(1)).join(' ')}`,
    '',
    `setup       req/s (sat.)  vs native  vs Go peer  server µs/req  vs Go peer  Envoy µs/req  ${rates.map((x) => `added p50/p99 ms @${x}/s`.padEnd(26)).join('')}`,
  ];
  for (const s of SETUPS) {
    const x = f[s];
    if (!x) continue;
    const peer = peerOf(s);
    const p = peer ? f[peer] : undefined;
    lines.push(
      `${s.padEnd(10)} ${n(x.rps).padStart(13)}  ${ratio(x.rps, f.native.rps).padStart(9)}  ${(peer ? ratio(x.rps, p?.rps) : '').padStart(10)}  ` +
        `${n(x.serverCpuUsPerReq).padStart(13)}  ${(peer ? ratio(x.serverCpuUsPerReq, p?.serverCpuUsPerReq) : '').padStart(10)}  ${n(x.envoyCpuUsPerReq).padStart(12)}  ` +
        rates
          .map((rate) => {
            const l = x.latency[rate]!;
            const sign = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
            const cell = s === 'native' ? `(${l.p50Ms.toFixed(2)}/${l.p99Ms.toFixed(2)} abs)` : `${sign(l.addedP50Ms)}/${sign(l.addedP99Ms)}`;
            return `${cell}${l.errors ? ` [${l.errors} non-200]` : ''}`.padEnd(26);
          })
          .join(''),
    );
  }
  const top = Math.max(...rates);
  const g = f['go-2p'];
  const targets: string[] = [];
  for (const s of ['bandit-2p', 'bandit-al', 'before-2p'] as const) {
    const b = f[s];
    if (!b) continue;
    const peer = f[peerOf(s)!];
    const l = b.latency[top]!;
    targets.push(
      `${s}: throughput ${ratio(b.rps, g?.rps)} of the Go peer two-phase (target >= 1.0); server CPU/req ${ratio(b.serverCpuUsPerReq, peer?.serverCpuUsPerReq)} of the peer, same mode (target <= 1.2); ` +
        `added p50 @${top}/s ${l.addedP50Ms.toFixed(2)} ms (target <= 0.35); p99 @${top}/s ${l.p99Ms.toFixed(2)} ms vs Go peer two-phase ${n(g?.latency[top]!.p99Ms, 2)} ms (target <=)`,
    );
  }
  return [...lines, '', ...targets].join('\n');
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const opts: PeerBenchOptions = {};
  if (argValue('rounds')) opts.rounds = Number(argValue('rounds'));
  if (argValue('seconds')) opts.seconds = Number(argValue('seconds'));
  if (argValue('setups')) opts.setups = argValue('setups')!.split(',') as Setup[];
  runEnvoyPeerBench(opts).then(
    (r) => console.log(formatPeerResult(r)),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
