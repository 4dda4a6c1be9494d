/**
 * A data path that stays flat: ≥ 10 M decisions through the sidecar's own
 * request path in process — the ext_proc handler (request headers → decision,
 * then the outcome from an access-log entry or the response-headers phase),
 * the engine with metrics, guardrails observing every outcome, sticky sessions
 * with a churning pool of session ids — printing CPU µs per request and heap
 * (after a full GC) at the start and at the end, for the first and last
 * million. Anything that grows with decisions shows up as a heap that climbs
 * or a CPU per request that drifts.
 *
 *   npm run build && node dist/bench/flat.js [--decisions 10000000] [--source access_log|response_headers]
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import { createMetrics } from '../src/metrics/metrics.js';
import { parseConfig } from '../src/config/load.js';
import { Engine, type Decision } from '../src/engine/engine.js';
import { EngineExtProcHandler } from '../src/engine/extproc-bridge.js';
import type { AccessLogEntry, HeaderList, StreamContext } from '../src/extproc/handler.js';
import { Guardrails } from '../src/guardrails/guardrails.js';
import { DecisionIdCodec } from '../src/reward/decision-id.js';
import { ReplicaState, routeShapes } from '../src/state/replica-state.js';
import { systemClock } from '../src/util/clock.js';
import { createRng } from '../src/util/rng.js';
import { runIfMain } from './main.js';

export interface FlatOptions {
  decisions?: number;
  source?: 'access_log' | 'response_headers';
  /** Distinct session ids in the pool (churned: a fresh id every 10th request). */
  sessions?: number;
  /** Requests per measured segment. */
  segment?: number;
}

export interface FlatResult {
  decisions: number;
  source: string;
  /** CPU µs per request in each segment, in order. */
  cpuUsPerRequest: number[];
  heapStartMb: number;
  heapEndMb: number;
  seconds: number;
}

const DEFAULTS = { decisions: 10_000_000, source: 'access_log' as const, sessions: 50_000, segment: 1_000_000 };

const config = (source: string) => `
replica_id: flat
outcomes: { source: ${source}, max_pending: 100000 }
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    policy: { type: thompson }
    sticky: { header: x-session-id, max_sessions: 100000 }
    reward: { latency: { slo: 200ms } }
`;

function gcNow(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const heapMb = (): number => process.memoryUsage().heapUsed / 1024 / 1024;

/** A reusable header list: the path and a session id that changes per request. */
class Headers implements HeaderList {
  session = '';
  readonly length = 3;
  name(i: number): string {
    return [':path', ':authority', 'x-session-id'][i]!;
  }
  value(i: number): string {
    return ['/v1/chat/completions', 'models', this.session][i]!;
  }
  get(n: string): string | undefined {
    return n === ':path' ? '/v1/chat/completions' : n === 'x-session-id' ? this.session : n === ':authority' ? 'models' : undefined;
  }
}

export async function runFlatBench(opts: FlatOptions = {}): Promise<FlatResult> {
  const o = { ...DEFAULTS, ...opts };
  const parsed = parseConfig(config(o.source), { env: {}, hostname: 'flat' });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  const cfg = parsed.value;
  const state = new ReplicaState(cfg.replica_id, routeShapes(cfg), systemClock);
  const metrics = createMetrics(new Registry());
  const engine = new Engine({ config: cfg, state, rng: createRng(1), clock: systemClock, metrics, logger: null, ids: new DecisionIdCodec(DecisionIdCodec.generateKey(), cfg.replica_id) });
  const guard = new Guardrails({ engine, clock: systemClock, metrics, logger: null });
  const handler = new EngineExtProcHandler(engine);
  const headers = new Headers();
  const status200 = { length: 1, name: () => ':status', value: () => '200', get: (n: string) => (n === ':status' ? '200' : undefined) } satisfies HeaderList;
  const rng = createRng(7);
  const entry: AccessLogEntry = {
    status: 200,
    requestHeaders: new Map(),
    responseHeaders: new Map(),
    responseTrailers: new Map(),
    ttfbMs: 20,
    lastUpstreamRxMs: 40,
    lastDownstreamTxMs: 41,
    durationMs: 42,
    bodyBytes: 100,
    flags: [],
    details: '',
    intermediate: false,
  };
  const batch = [entry];
  let session = 0;
  let fresh = o.sessions;
  const one = (i: number): void => {
    headers.session = i % 10 === 0 ? `s-${fresh++}` : `s-${(session = (session + 7919) % o.sessions)}`;
    const stream: StreamContext<Decision> = { id: i, decision: undefined };
    const reply = handler.onRequestHeaders(headers, stream)!;
    const failed = rng.next() < 0.05;
    if (o.source === 'access_log') {
      entry.requestHeaders.set('x-bandit-decision-id', reply.set[1]![1]);
      entry.status = failed ? 500 : 200;
      handler.onAccessLog(batch);
    } else {
      handler.onResponseHeaders(status200, stream);
    }
    handler.onStreamEnd(stream, 'ok');
  };

  // Warm-up, then the baseline heap.
  for (let i = 0; i < 200_000; i++) one(i);
  gcNow();
  const heapStartMb = heapMb();
  const cpu: number[] = [];
  const t0 = Date.now();
  let done = 0;
  while (done < o.decisions) {
    const n = Math.min(o.segment, o.decisions - done);
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) one(done + i);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / n);
    done += n;
    guard.tick();
    await new Promise((r) => setImmediate(r));
  }
  gcNow();
  const heapEndMb = heapMb();
  guard.stop();
  return { decisions: done, source: o.source, cpuUsPerRequest: cpu, heapStartMb, heapEndMb, seconds: (Date.now() - t0) / 1000 };
}

export function formatFlatResult(r: FlatResult): string {
  const first = r.cpuUsPerRequest[0]!;
  const last = r.cpuUsPerRequest.at(-1)!;
  return [
    `${(r.decisions / 1e6).toFixed(1)} M decisions (outcomes: ${r.source}) in ${r.seconds.toFixed(0)} s`,
    `CPU µs/request per million: ${r.cpuUsPerRequest.map((x) => x.toFixed(2)).join(' ')}`,
    `CPU µs/request first → last million: ${first.toFixed(2)} → ${last.toFixed(2)} (${(last / first).toFixed(2)}x)`,
    `heap after GC: start ${r.heapStartMb.toFixed(1)} MB → end ${r.heapEndMb.toFixed(1)} MB (${(r.heapEndMb - r.heapStartMb).toFixed(1)} MB)`,
  ].join('\n');
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

runIfMain(
  import.meta.url,
  () => runFlatBench({ decisions: Number(arg('--decisions') ?? DEFAULTS.decisions), source: (arg('--source') as FlatOptions['source']) ?? DEFAULTS.source }),
  formatFlatResult,
);
