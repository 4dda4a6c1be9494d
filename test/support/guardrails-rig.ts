/** A real Engine + Guardrails on a ManualClock, and a paced traffic simulator with delayed responses. */
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Engine, type Decision } from '../../src/engine/engine.js';
import type { HeaderList } from '../../src/extproc/handler.js';
import { Guardrails } from '../../src/guardrails/guardrails.js';
import { DecisionIdCodec } from '../../src/reward/decision-id.js';
import { ReplicaState, routeShapes } from '../../src/state/replica-state.js';
import { ManualClock } from '../../src/util/clock.js';
import { createRng, type Rng } from '../../src/util/rng.js';

export const T0 = 1_700_000_000_000;
export const ROUTE = 'chat';

export function guardConfig(opts: { arms?: string[]; guardrails?: string; policy?: string; replica?: string } = {}): Config {
  const arms = opts.arms ?? ['a', 'b'];
  const lines = [
    `replica_id: ${opts.replica ?? 'r1'}`,
    'listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }',
    'routes:',
    `  - name: ${ROUTE}`,
    '    match: { path_prefix: /chat }',
    '    arms:',
    ...arms.map((a) => `      - { name: ${a}, cluster: c_${a}, cost: 0 }`),
    `    default_arm: ${arms[0]}`,
    `    policy: ${opts.policy ?? '{ type: thompson, min_share: 0.05 }'}`,
    '    reward:',
    '      weights: { success: 1, latency: 0, header: 0, cost: 0 }',
    `    guardrails: ${opts.guardrails ?? '{}'}`,
  ];
  const res = parseConfig(lines.join('\n') + '\n', { env: {} });
  if (!res.ok) throw new Error(`test config invalid: ${JSON.stringify(res.error)}`);
  return res.value;
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface Rig {
  config: Config;
  engine: Engine;
  state: ReplicaState;
  clock: ManualClock;
  metrics: Metrics;
  guardrails: Guardrails;
  logs: LogLine[];
  logger: Logger;
}

export function makeRig(config: Config, opts: { seed?: number; clock?: ManualClock; replica?: string } = {}): Rig {
  const clock = opts.clock ?? new ManualClock(T0);
  const replica = opts.replica ?? config.replica_id;
  const state = new ReplicaState(replica, routeShapes(config), clock);
  const metrics = createMetrics(new Registry());
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const engine = new Engine({ config, state, rng: createRng(opts.seed ?? 7), clock, metrics, logger, ids: new DecisionIdCodec(Buffer.alloc(32, 3), replica), monotonic: () => 0 });
  const guardrails = new Guardrails({ engine, clock, metrics, logger });
  return { config, engine, state, clock, metrics, guardrails, logs, logger };
}

/** How an arm answers at a given time. */
export interface ArmBehaviour {
  errorRate: number;
  /** The status a failing request gets (default 500). */
  errorStatus?: number;
  /** Latency in ms for one request (may draw from rng). */
  latency: (rng: Rng) => number;
}

export type Behaviours = (arm: string, t: number) => ArmBehaviour;

interface Pending {
  at: number;
  d: Decision;
  status: number;
  latency: number;
}

/** A binary min-heap on `at` (responses complete out of order). */
class Heap {
  private a: Pending[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Pending | undefined {
    return this.a[0];
  }
  push(p: Pending): void {
    const a = this.a;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const j = (i - 1) >> 1;
      if (a[j]!.at <= a[i]!.at) break;
      [a[i], a[j]] = [a[j]!, a[i]!];
      i = j;
    }
  }
  pop(): Pending | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.at < a[m]!.at) m = l;
        if (r < a.length && a[r]!.at < a[m]!.at) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

export interface SimOptions {
  rps: number;
  /** Simulated duration in ms from the clock's current time. */
  durationMs: number;
  behaviours: Behaviours;
  rng: Rng;
  /** Called after every request and response; return true to stop early. */
  onStep?: (t: number) => boolean | void;
  headers?: (i: number) => Record<string, string> | null;
}

export interface SimStats {
  requests: number;
  /** Decisions per arm. */
  byArm: Record<string, number>;
  errorsByArm: Record<string, number>;
  endedAt: number;
}

/**
 * Open-loop load at a fixed rate on simulated time: request i is decided at
 * start + i / rps; its response lands `latency` later (events in time order).
 * The guardrails' 250 ms timer is simulated too.
 */
export function simulate(rig: Rig, o: SimOptions): SimStats {
  const { engine, clock, guardrails } = rig;
  const route = engine.route(ROUTE)!;
  const start = clock.now();
  const end = start + o.durationMs;
  const gap = 1000 / o.rps;
  const heap = new Heap();
  const stats: SimStats = { requests: 0, byArm: {}, errorsByArm: {}, endedAt: start };
  let nextTick = start + 250;
  let i = 0;
  const headers = (k: number): HeaderList | null => {
    const h = o.headers?.(k);
    return h ? headerList(h) : null;
  };
  for (;;) {
    const nextReq = start + i * gap;
    const nextResp = heap.peek()?.at ?? Number.POSITIVE_INFINITY;
    const t = Math.min(nextReq, nextResp, nextTick);
    if (t >= end) break;
    clock.set(Math.max(clock.now(), t));
    if (t === nextResp) {
      const p = heap.pop()!;
      engine.onResponse(p.d, p.status, undefined, p.latency);
    } else if (t === nextTick) {
      guardrails.tick();
      nextTick += 250;
      continue;
    } else {
      const d = engine.decide(route, headers(i));
      const arm = route.armNames[d.arm]!;
      const b = o.behaviours(arm, t - start);
      const fail = o.rng.next() < b.errorRate;
      const latency = b.latency(o.rng);
      heap.push({ at: t + latency, d, status: fail ? (b.errorStatus ?? 500) : 200, latency });
      stats.requests++;
      stats.byArm[arm] = (stats.byArm[arm] ?? 0) + 1;
      if (fail) stats.errorsByArm[arm] = (stats.errorsByArm[arm] ?? 0) + 1;
      i++;
    }
    if (o.onStep?.(clock.now())) break;
  }
  stats.endedAt = clock.now();
  return stats;
}

/** Lognormal-ish latency around `median` ms with spread `sigma` (log scale). */
export function lognormal(median: number, sigma: number): (rng: Rng) => number {
  return (rng) => {
    let u = rng.next();
    while (u === 0) u = rng.next();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
    return median * Math.exp(sigma * z);
  };
}

export const constant = (ms: number) => () => ms;

export async function counterValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = metrics.registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  const hit = data.values.find((v) => Object.entries(labels).every(([k, val]) => String((v.labels as Record<string, unknown>)[k]) === val));
  return hit?.value ?? 0;
}

export async function totalTrips(metrics: Metrics): Promise<number> {
  const m = metrics.registry.getSingleMetric('envoy_bandit_guardrail_trips_total');
  const data = await m!.get();
  return data.values.reduce((s, v) => s + v.value, 0);
}

export function headerList(h: Record<string, string>): HeaderList {
  const entries = Object.entries(h);
  return { length: entries.length, name: (i) => entries[i]![0], value: (i) => entries[i]![1], get: (n) => h[n] };
}
