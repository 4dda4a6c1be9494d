/**
 * Run the real envoy/envoy.yaml in tests: rewrite its ports by cluster name,
 * start Envoy, wait for LIVE, expose the bound ports and the admin stats.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { findEnvoyBinary } from '../../src/util/envoy-binary.js';
import { sleep } from './wait.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const ENVOY_CONFIG = join(REPO_ROOT, 'envoy', 'envoy.yaml');
/** The access-log variant: request headers over ext_proc, outcomes over Envoy's gRPC access log. */
export const ENVOY_ACCESSLOG_CONFIG = join(REPO_ROOT, 'envoy', 'envoy-accesslog.yaml');
export const EXT_PROC_CLUSTER = 'envoy_bandit';

export const ENVOY_DEFAULTS = {
  startTimeoutMs: 20_000,
  stopTimeoutMs: 5_000,
  logLevel: 'warning',
  /** Port 0: Envoy binds a free port; the real one is read back from the admin API. */
  port: 0,
} as const;

export type ExtProcTarget = { host: string; port: number } | { unixPath: string };

export interface RenderOptions {
  listenerPort?: number;
  adminPort?: number;
  extProc: ExtProcTarget;
  /** Model cluster name -> port on 127.0.0.1. Every named cluster must exist in the file. */
  clusters: Record<string, number>;
  /** Defaults to envoy/envoy.yaml. */
  configPath?: string;
  /**
   * Overrides the ext_proc filter's message_timeout (e.g. '2s'): for tests that
   * check accounting rather than fail-open timing, so a stalled shared machine
   * does not turn decisions into fail-open passes.
   */
  extProcMessageTimeout?: string;
  /** Edits the parsed config before ports are rewritten (e.g. add clusters, shorten timeouts). */
  mutate?: (doc: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any -- untyped YAML tree
}

/* eslint-disable @typescript-eslint/no-explicit-any -- walking an untyped YAML tree */
function endpointAddress(cluster: any): any {
  const ep = cluster?.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint;
  if (!ep?.address) throw new Error(`cluster ${cluster?.name} has no single-endpoint load_assignment`);
  return ep;
}

/** Renders the config with the given ports into a fresh temp dir; returns its path. */
export function renderEnvoyConfig(opts: RenderOptions): { path: string; dir: string } {
  const doc: any = parse(readFileSync(opts.configPath ?? ENVOY_CONFIG, 'utf8'));
  opts.mutate?.(doc);
  doc.admin.address.socket_address.port_value = opts.adminPort ?? ENVOY_DEFAULTS.port;
  doc.static_resources.listeners[0].address.socket_address.port_value = opts.listenerPort ?? ENVOY_DEFAULTS.port;
  const clusters: any[] = doc.static_resources.clusters;
  const byName = new Map(clusters.map((c) => [c.name as string, c]));
  const ext = byName.get(EXT_PROC_CLUSTER);
  if (!ext) throw new Error(`cluster ${EXT_PROC_CLUSTER} missing from the Envoy config`);
  const extEp = endpointAddress(ext);
  extEp.address =
    'unixPath' in opts.extProc
      ? { pipe: { path: opts.extProc.unixPath } }
      : { socket_address: { address: opts.extProc.host, port_value: opts.extProc.port } };
  for (const [name, port] of Object.entries(opts.clusters)) {
    const c = byName.get(name);
    if (!c) throw new Error(`cluster ${name} missing from the Envoy config`);
    endpointAddress(c).address = { socket_address: { address: '127.0.0.1', port_value: port } };
  }
  if (opts.extProcMessageTimeout !== undefined) {
    for (const l of doc.static_resources.listeners) {
      for (const fc of l.filter_chains ?? []) {
        for (const f of fc.filters ?? []) {
          for (const hf of f.typed_config?.http_filters ?? []) {
            if (hf.name === 'envoy.filters.http.ext_proc') hf.typed_config.message_timeout = opts.extProcMessageTimeout;
          }
        }
      }
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'envoy-bandit-envoy-'));
  const path = join(dir, 'envoy.yaml');
  writeFileSync(path, stringify(doc));
  return { path, dir };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface RunningEnvoy {
  port: number;
  adminPort: number;
  /** Counters and gauges from /stats?format=json. */
  stats(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
let instanceCounter = 0;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}


async function adminGet(adminPort: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}${path}`);
  return res.text();
}

export async function startEnvoy(
  opts: RenderOptions & { binary?: string; logLevel?: string; startTimeoutMs?: number },
): Promise<RunningEnvoy> {
  const { path, dir } = renderEnvoyConfig(opts);
  const adminAddressPath = join(dir, 'admin-address');
  const baseId = ((process.pid % 100_000) * 100 + (instanceCounter++ % 100)) >>> 0;
  const child = spawn(
    opts.binary ?? findEnvoyBinary(),
    [
      '-c', path,
      '--base-id', String(baseId),
      '--concurrency', '1',
      '-l', opts.logLevel ?? ENVOY_DEFAULTS.logLevel,
      '--disable-hot-restart',
      '--admin-address-path', adminAddressPath,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  installExitHook();
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-8_000);
  });
  let exited: number | null = null;
  const exitPromise = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : 0);
      running.delete(child);
      r();
    }),
  );

  const stop = async (): Promise<void> => {
    if (exited === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), ENVOY_DEFAULTS.stopTimeoutMs);
      await exitPromise;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? ENVOY_DEFAULTS.startTimeoutMs);
  let adminPort = 0;
  try {
    for (;;) {
      if (exited !== null) throw new Error(`envoy exited with ${exited} during start:\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`envoy not LIVE within the start timeout:\n${stderr}`);
      if (!adminPort) {
        try {
          const addr = readFileSync(adminAddressPath, 'utf8').trim();
          adminPort = Number(addr.slice(addr.lastIndexOf(':') + 1));
        } catch {
          // not written yet
        }
      }
      if (adminPort) {
        const ready = await adminGet(adminPort, '/ready').catch(() => '');
        if (ready.trim() === 'LIVE') break;
      }
      await sleep(50);
    }
    const listeners = JSON.parse(await adminGet(adminPort, '/listeners?format=json')) as {
      listener_statuses: { local_address: { socket_address: { port_value: number } } }[];
    };
    const port = listeners.listener_statuses[0]!.local_address.socket_address.port_value;
    return {
      port,
      adminPort,
      async stats() {
        const body = JSON.parse(await adminGet(adminPort, '/stats?format=json')) as { stats: { name?: string; value?: number }[] };
        const out: Record<string, number> = {};
        for (const s of body.stats) if (s.name !== undefined && typeof s.value === 'number') out[s.name] = s.value;
        return out;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
