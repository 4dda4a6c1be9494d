/**
 * Envoy for the demo: envoy/envoy.yaml rendered with the demo's ports (one
 * Envoy per sidecar replica, like one pod each), installed on first use with
 * scripts/setup-envoy.mjs when no binary is found.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { findEnvoyBinary } from '../../util/envoy-binary.js';
import { envoyTemplate } from './paths.js';
import type { ProcessGroup, TrackedProcess } from './procs.js';

export const EXT_PROC_CLUSTER = 'envoy_bandit';
const SETUP_TIMEOUT_MS = 600_000;
const POLL_MS = 100;

/** The Envoy binary, running scripts/setup-envoy.mjs once if none is found. */
export function ensureEnvoy(root: string, log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return findEnvoyBinary(env);
  } catch {
    const script = join(root, 'scripts', 'setup-envoy.mjs');
    if (!existsSync(script)) throw new Error('envoy binary not found and scripts/setup-envoy.mjs is not available; set ENVOY_BIN');
    log('envoy not found: installing it with scripts/setup-envoy.mjs (one time)…');
    const r = spawnSync(process.execPath, [script], { stdio: ['ignore', 'ignore', 'inherit'], timeout: SETUP_TIMEOUT_MS });
    if (r.status !== 0) throw new Error('scripts/setup-envoy.mjs could not install envoy; set ENVOY_BIN');
    return findEnvoyBinary(env);
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any -- walking an untyped YAML tree */
function endpoint(cluster: any): any {
  const ep = cluster?.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint;
  if (!ep?.address) throw new Error(`cluster ${cluster?.name} has no single-endpoint load_assignment`);
  return ep;
}

export interface EnvoyPorts {
  listener: number;
  admin: number;
  extProc: number;
  /** cluster name -> backend port on 127.0.0.1 */
  clusters: Record<string, number>;
}

/** envoy/envoy.yaml (or another file of the same shape, e.g. envoy/envoy-accesslog.yaml) with the given ports, as YAML text. */
export function renderEnvoyYaml(root: string, ports: EnvoyPorts, template: string = envoyTemplate(root)): string {
  const doc: any = parse(readFileSync(template, 'utf8'));
  doc.admin.address.socket_address.port_value = ports.admin;
  doc.static_resources.listeners[0].address.socket_address.port_value = ports.listener;
  const byName = new Map<string, any>((doc.static_resources.clusters as any[]).map((c) => [c.name as string, c]));
  const ext = byName.get(EXT_PROC_CLUSTER);
  if (!ext) throw new Error(`cluster ${EXT_PROC_CLUSTER} missing from envoy/envoy.yaml`);
  endpoint(ext).address = { socket_address: { address: '127.0.0.1', port_value: ports.extProc } };
  for (const [name, port] of Object.entries(ports.clusters)) {
    const c = byName.get(name);
    if (!c) throw new Error(`cluster ${name} missing from envoy/envoy.yaml`);
    endpoint(c).address = { socket_address: { address: '127.0.0.1', port_value: port } };
  }
  return stringify(doc);
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface DemoEnvoy {
  proc: TrackedProcess;
  port: number;
  adminPort: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts Envoy and waits until its admin says LIVE. */
export async function startDemoEnvoy(
  group: ProcessGroup,
  opts: { binary: string; root: string; dir: string; index: number; ports: EnvoyPorts; timeoutMs: number },
): Promise<DemoEnvoy> {
  const config = join(opts.dir, `envoy-${opts.index}.yaml`);
  writeFileSync(config, renderEnvoyYaml(opts.root, opts.ports));
  const baseId = ((process.pid % 100_000) * 10 + opts.index) >>> 0;
  const proc = group.spawn(
    `envoy-${opts.index}`,
    opts.binary,
    ['-c', config, '--base-id', String(baseId), '--concurrency', '1', '-l', 'warning', '--disable-hot-restart'],
    { logFile: join(opts.dir, 'logs', `envoy-${opts.index}.log`) },
  );
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (proc.done) throw new Error(`envoy-${opts.index} exited during start (see ${join(opts.dir, 'logs', `envoy-${opts.index}.log`)})`);
    if (Date.now() > deadline) throw new Error(`envoy-${opts.index} not LIVE within ${opts.timeoutMs} ms`);
    const ready = await fetch(`http://127.0.0.1:${opts.ports.admin}/ready`).then((r) => r.text(), () => '');
    if (ready.trim() === 'LIVE') return { proc, port: opts.ports.listener, adminPort: opts.ports.admin };
    await sleep(POLL_MS);
  }
}
