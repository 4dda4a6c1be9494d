/**
 * A full local stack for the admin integration tests: real backends, the real
 * Sidecar (components, admin server, ext_proc) and real Envoy in front.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { startBackend, type Backend, type BackendBehaviour } from './backend.js';
import { startEnvoy, type RunningEnvoy } from './envoy.js';
import { runLoad, type LoadResult } from './load.js';

export const STACK_TOKEN = 'stack-admin-token-0123456789';
export const INTEREST = ['x-backend', 'x-bandit-arm', 'x-bandit-decision-id'] as const;

export interface Stack {
  dir: string;
  configPath: string;
  sidecar: Sidecar;
  envoy: RunningEnvoy;
  backends: Record<string, Backend>;
  /** Sequential requests through Envoy. */
  traffic(path: string, total: number, headers?: Record<string, string>): Promise<LoadResult[]>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON replies
  admin(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; json: any }>;
  writeConfig(yaml: string): Promise<void>;
  stop(): Promise<void>;
}

/** `yaml(dir)` renders the sidecar config; `{{DIR}}` style paths point into the stack's temp dir. */
export async function startStack(opts: {
  yaml: (dir: string) => string;
  backends: Record<string, Partial<BackendBehaviour>>;
  seed?: number;
  /** See RenderOptions.extProcMessageTimeout. */
  extProcMessageTimeout?: string;
}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'eb-stack-'));
  await writeFile(join(dir, 'token'), STACK_TOKEN);
  await writeFile(join(dir, 'key'), 'decision-id-key-0123456789abcdef');
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, opts.yaml(dir));
  const loaded = await loadConfigFile(configPath, { env: {} });
  if (!loaded.ok) throw new Error(`stack config invalid: ${JSON.stringify(loaded.error)}`);
  const backends: Record<string, Backend> = {};
  const cleanup: Array<() => Promise<void>> = [];
  try {
    let i = 0;
    for (const [name, b] of Object.entries(opts.backends)) {
      backends[name] = await startBackend({ name, seed: ++i, ...b });
      cleanup.push(() => backends[name]!.stop());
    }
    const sidecar = await Sidecar.create({ config: loaded.value, logger: silentLogger(), seed: opts.seed ?? 11, env: {}, configPath });
    await sidecar.start();
    cleanup.push(() => sidecar.stop(1_000));
    const extPort = Number(sidecar.addresses.extProc.slice(sidecar.addresses.extProc.lastIndexOf(':') + 1));
    const envoy = await startEnvoy({
      extProc: { host: '127.0.0.1', port: extPort },
      clusters: Object.fromEntries(Object.entries(backends).map(([n, b]) => [n, b.port])),
      ...(opts.extProcMessageTimeout !== undefined ? { extProcMessageTimeout: opts.extProcMessageTimeout } : {}),
    });
    cleanup.push(() => envoy.stop());
    const adminBase = `http://${sidecar.addresses.admin}`;
    let stopped = false;
    return {
      dir,
      configPath,
      sidecar,
      envoy,
      backends,
      traffic: (path, total, headers = {}) =>
        runLoad({ url: `http://127.0.0.1:${envoy.port}${path}`, total, concurrency: 1, headers: () => headers, headersOfInterest: INTEREST }),
      async admin(method, path, body, token = STACK_TOKEN) {
        const headers: Record<string, string> = {};
        if (token) headers.authorization = `Bearer ${token}`;
        if (body !== undefined) headers['content-type'] = 'application/json';
        const res = await fetch(`${adminBase}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await res.text();
        return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
      },
      writeConfig: (yaml) => writeFile(configPath, yaml),
      async stop() {
        if (stopped) return;
        stopped = true;
        for (const c of cleanup.reverse()) await c().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
