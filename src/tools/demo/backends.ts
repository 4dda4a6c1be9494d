/**
 * The simulated model backends: real HTTP servers on 127.0.0.1 (in the demo
 * process) whose error rate and latency follow a profile that can change
 * mid-run. Each records what it served so the demo can measure every arm.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRng, type Rng } from '../../util/rng.js';
import type { ArmProfile } from './defaults.js';

export interface Served {
  status: number;
  latencyMs: number;
}

export interface SimBackend {
  readonly arm: ArmProfile;
  readonly port: number;
  /** Current behaviour; mutable. */
  errorRate: number;
  latencyMs: number;
  /** Everything served since the last drain. */
  drain(): Served[];
  stop(): Promise<void>;
}

/** A right-skewed draw around `mean`: most calls near it, a tail to ~2.5x. */
export function drawLatency(rng: Rng, mean: number): number {
  const u = rng.next();
  const base = 0.75 + 0.5 * rng.next();
  const tail = u > 0.93 ? 1 + 1.5 * rng.next() : 1;
  return Math.max(1, Math.round(mean * base * tail));
}

export async function startSimBackend(arm: ArmProfile, seed: number): Promise<SimBackend> {
  const rng = createRng(seed);
  let served: Served[] = [];
  const state = { errorRate: arm.errorRate, latencyMs: arm.latencyMs };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const fail = rng.next() < state.errorRate;
      const latency = drawLatency(rng, state.latencyMs);
      setTimeout(() => {
        const status = fail ? 503 : 200;
        served.push({ status, latencyMs: latency });
        res.writeHead(status, { 'content-type': 'application/json', 'x-model': arm.name });
        res.end(fail ? `{"error":"${arm.name} overloaded"}` : `{"model":"${arm.name}","choices":[{"text":"ok"}]}`);
      }, latency);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    arm,
    port,
    get errorRate() {
      return state.errorRate;
    },
    set errorRate(x: number) {
      state.errorRate = x;
    },
    get latencyMs() {
      return state.latencyMs;
    },
    set latencyMs(x: number) {
      state.latencyMs = x;
    },
    drain() {
      const out = served;
      served = [];
      return out;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Puts every backend back to its profile (between phases). */
export function resetBackends(backends: readonly SimBackend[]): void {
  for (const b of backends) {
    b.errorRate = b.arm.errorRate;
    b.latencyMs = b.arm.latencyMs;
    b.drain();
  }
}
