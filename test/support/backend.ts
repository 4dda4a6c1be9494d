/**
 * A real HTTP model-backend simulator for integration tests: answers with its
 * name, fails with probability `errorRate` (seeded), waits `latencyMs`, and can
 * send a reward header. Behaviour is mutable while running.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRng, type Rng } from '../../src/util/rng.js';

export interface BackendBehaviour {
  name: string;
  errorRate: number;
  /** The status a failing request gets (default 500). */
  errorStatus?: number;
  latencyMs: number;
  /** When set, sent as `x-reward: <value>`. */
  rewardHeader?: number;
  /** When set, the error rate for requests whose `header` has a listed value (others: errorRate). */
  errorRateByHeader?: { header: string; rates: Record<string, number> };
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface Backend {
  readonly port: number;
  readonly behaviour: BackendBehaviour;
  /** Requests answered so far. */
  readonly requests: number;
  /** The most recent requests (bounded). */
  readonly seen: readonly SeenRequest[];
  reset(): void;
  stop(): Promise<void>;
}

export const BACKEND_DEFAULTS = { errorRate: 0, latencyMs: 0, seed: 1, keepSeen: 200 } as const;

export async function startBackend(
  opts: Partial<BackendBehaviour> & { name: string; seed?: number; port?: number },
): Promise<Backend> {
  const behaviour: BackendBehaviour = {
    name: opts.name,
    errorRate: opts.errorRate ?? BACKEND_DEFAULTS.errorRate,
    latencyMs: opts.latencyMs ?? BACKEND_DEFAULTS.latencyMs,
    ...(opts.rewardHeader !== undefined ? { rewardHeader: opts.rewardHeader } : {}),
    ...(opts.errorRateByHeader !== undefined ? { errorRateByHeader: opts.errorRateByHeader } : {}),
  };
  const rng: Rng = createRng(opts.seed ?? BACKEND_DEFAULTS.seed);
  let requests = 0;
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
      if (seen.length > BACKEND_DEFAULTS.keepSeen) seen.shift();
      const by = behaviour.errorRateByHeader;
      const value = by ? req.headers[by.header] : undefined;
      const rate = by && typeof value === 'string' && by.rates[value] !== undefined ? by.rates[value]! : behaviour.errorRate;
      const fail = rng.next() < rate;
      const reply = () => {
        const headers: Record<string, string> = { 'content-type': 'application/json', 'x-backend': behaviour.name };
        if (behaviour.rewardHeader !== undefined) headers['x-reward'] = String(behaviour.rewardHeader);
        res.writeHead(fail ? (behaviour.errorStatus ?? 500) : 200, headers);
        res.end(JSON.stringify({ backend: behaviour.name, ok: !fail }));
      };
      if (behaviour.latencyMs > 0) setTimeout(reply, behaviour.latencyMs);
      else reply();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    behaviour,
    get requests() {
      return requests;
    },
    seen,
    reset() {
      requests = 0;
      seen.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
