/**
 * Contextual decisions per CPU-second, in process: 16 request features, 5 arms,
 * each decision = feature extraction from the request's headers + LinUCB or
 * linear Thompson choice with the exploration floor. Measured side by side
 * (alternating batches, same run, medians) against context-free Thompson
 * (Beta) over the same 5 arms. Target: ≥ 200,000 decisions/s.
 *
 * Shapes: "hashed" = 4 categorical features (8 buckets each) + 12 clipped
 * numerics, d = 45 with 17 nonzeros per request; "dense" = 15 numerics + the
 * intercept, d = 16, every entry nonzero. "live" adds one reward (a
 * Sherman–Morrison update of one arm's cached inverse) per decision.
 * "fleet" runs the sidecar's path: the route policy reads the replica
 * state's fleet statistics (a version check per decision), each reward is
 * recorded in our slot too, and a peer's slot is merged every MERGE_EVERY
 * decisions (each merge makes the next decision rebuild every arm's inverse
 * by Cholesky) — far more often than gossip's once a second at these rates.
 *
 *   npm run bench -- --only contextual
 */
import { ContextualChooser } from '../src/contextual/chooser.js';
import { parseContextual } from '../src/contextual/config.js';
import { chooseWithFloor } from '../src/policy/floor.js';
import { PolicyInputBuffer } from '../src/policy/input.js';
import { ThompsonBetaPolicy } from '../src/policy/thompson-beta.js';
import { createRng, type Rng } from '../src/util/rng.js';
import { runIfMain } from './main.js';
import type { ContextualPolicyParams } from '../src/config/types.js';
import { ContextualRoutePolicy } from '../src/contextual/route-policy.js';
import { ReplicaState, routeShapes } from '../src/state/replica-state.js';
import { simConfig } from '../src/tools/sim/engine-config.js';

const ARMS = 5;
const ROUNDS = 7;
const BATCH_MS = 60;
const REQUESTS = 64;
const MERGE_EVERY = 20_000;

export interface ContextualRow {
  case: string;
  dim: number;
  opsPerSec: number;
  baselineOpsPerSec: number;
  ratio: number;
}

function features(shape: 'hashed' | 'dense'): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  if (shape === 'hashed') for (let i = 0; i < 4; i++) out.push({ name: `c${i}`, header: `x-c${i}`, type: 'categorical', buckets: 8 });
  const numerics = shape === 'hashed' ? 12 : 15;
  for (let i = 0; i < numerics; i++) out.push({ name: `n${i}`, header: `x-n${i}`, type: 'numeric', transform: 'clip', min: 0, max: 100 });
  return out;
}

function requests(shape: 'hashed' | 'dense', rng: Rng): Array<Map<string, string>> {
  return Array.from({ length: REQUESTS }, () => {
    const h = new Map<string, string>();
    if (shape === 'hashed') for (let i = 0; i < 4; i++) h.set(`x-c${i}`, `v${Math.floor(rng.next() * 6)}`);
    for (let i = 0; i < (shape === 'hashed' ? 12 : 15); i++) h.set(`x-n${i}`, String(Math.floor(rng.next() * 100)));
    return h;
  });
}

interface Runner {
  step(i: number): number;
}

function contextualRunner(type: 'linucb' | 'lints', shape: 'hashed' | 'dense', live: boolean): { runner: Runner; dim: number } {
  const r = parseContextual({ features: features(shape), policy: { type, min_share: 0.01 } });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  const c = new ContextualChooser(r.value, ARMS);
  const rng = createRng(1);
  const reqs = requests(shape, rng);
  // Warm the models with 2,000 observations so the inverses are not the prior.
  for (let t = 0; t < 2000; t++) {
    const h = reqs[t % REQUESTS]!;
    c.setContext(h).observe(t % ARMS, rng.next() < 0.5 ? 1 : 0);
  }
  const runner: Runner = {
    step(i) {
      c.setContext(reqs[i % REQUESTS]!);
      const arm = c.choose(rng);
      if (live) c.observe(arm, (i & 1) === 0 ? 1 : 0);
      return arm;
    },
  };
  return { runner, dim: r.value.features.dim };
}

/** The sidecar's path: ContextualRoutePolicy over a ReplicaState that merges a peer's slot every MERGE_EVERY decisions. */
function fleetRunner(type: 'linucb' | 'lints', shape: 'hashed' | 'dense', live: boolean): { runner: Runner; dim: number } {
  const cfg = simConfig({ kind: 'bernoulli', arms: Array.from({ length: ARMS }, (_, a) => `arm${a}`), policy: { type, min_share: 0.01 }, sloMs: 1000, features: features(shape) });
  const route = cfg.routes[0]!;
  let t = 1_700_000_000_000;
  const clock = { now: () => t };
  const mine = new ReplicaState('r1', routeShapes(cfg), clock);
  const peer = new ReplicaState('r2', routeShapes(cfg), clock);
  mine.closeAdoption();
  peer.closeAdoption();
  const policy = new ContextualRoutePolicy(route.policy as ContextualPolicyParams, route.features ?? [], ARMS);
  const rng = createRng(1);
  const reqs = requests(shape, rng);
  for (let k = 0; k < 2000; k++) {
    for (const st of [mine, peer]) {
      policy.setContext(reqs[k % REQUESTS]!);
      const c = policy.ctx;
      st.record(0, k % ARMS, rng.next() < 0.5 ? 1 : 0);
      st.recordLinear(0, k % ARMS, c.x, c.nz, c.nnz, rng.next() < 0.5 ? 1 : 0);
    }
  }
  const input = new PolicyInputBuffer(ARMS);
  const runner: Runner = {
    step(i) {
      if (i % MERGE_EVERY === 0) {
        t++;
        peer.record(0, 0, 1);
        mine.merge(peer.snapshot());
      }
      policy.sync(mine, 0, t);
      policy.setContext(reqs[i % REQUESTS]!);
      input.reset(0);
      for (let a = 0; a < ARMS; a++) input.pushValues(a, 0, 0, 0);
      const arm = input.armIndex[chooseWithFloor(policy, input, rng, 0.01)]!;
      if (live) {
        const r = (i & 1) === 0 ? 1 : 0;
        mine.record(0, arm, r);
        mine.recordLinear(0, arm, policy.ctx.x, policy.ctx.nz, policy.ctx.nnz, r);
        policy.observe(arm, r, t);
      }
      return arm;
    },
  };
  return { runner, dim: policy.features.dim };
}

function thompsonRunner(): Runner {
  const policy = new ThompsonBetaPolicy();
  const input = new PolicyInputBuffer(ARMS);
  const rng = createRng(2);
  return {
    step(i) {
      input.reset(0);
      for (let a = 0; a < ARMS; a++) input.pushValues(a, 1000 + a + (i & 7), 500 + 40 * a, 500 + 40 * a);
      return chooseWithFloor(policy, input, rng, 0.01);
    },
  };
}

let sink = 0;
/**
 * Decisions per CPU-second of this process (user + system): on a shared
 * machine wall time counts other processes' work; CPU time does not.
 */
function opsPerSec(r: Runner, iterations: number): number {
  const c0 = process.cpuUsage();
  let acc = 0;
  for (let i = 0; i < iterations; i++) acc += r.step(i);
  const c = process.cpuUsage(c0);
  sink += acc;
  return (iterations * 1e6) / Math.max(1, c.user + c.system);
}

function calibrate(r: Runner): number {
  let n = 1000;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sink += r.step(i);
    const ms = performance.now() - t0;
    if (ms >= BATCH_MS / 4 || n > 1e8) return Math.max(1000, Math.round((n * BATCH_MS) / Math.max(ms, 0.01)));
    n *= 4;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runContextualBench(): Promise<ContextualRow[]> {
  const rows: ContextualRow[] = [];
  for (const type of ['linucb', 'lints'] as const) {
    for (const shape of ['hashed', 'dense', 'hashed fleet'] as const) {
      for (const live of [false, true]) {
        const { runner, dim } = shape === 'hashed fleet' ? fleetRunner(type, 'hashed', live) : contextualRunner(type, shape, live);
        const base = thompsonRunner();
        const ni = calibrate(runner);
        const nb = calibrate(base);
        const ours: number[] = [];
        const theirs: number[] = [];
        for (let k = 0; k < ROUNDS; k++) {
          ours.push(opsPerSec(runner, ni));
          theirs.push(opsPerSec(base, nb));
          await new Promise((res) => setImmediate(res));
        }
        const o = median(ours);
        const b = median(theirs);
        rows.push({ case: `${type} ${shape}${live ? ' live' : ''}`, dim, opsPerSec: o, baselineOpsPerSec: b, ratio: o / b });
      }
    }
  }
  if (sink === 0.5) console.log('');
  return rows;
}

export function formatContextualRows(rows: readonly ContextualRow[]): string {
  const lines = ['per CPU-second             d   decisions/s   thompson_beta/s   ratio   (target >= 200,000/s)'];
  for (const r of rows) {
    lines.push(
      `${r.case.padEnd(26)} ${String(r.dim).padStart(3)}  ${r.opsPerSec.toFixed(0).padStart(12)}  ${r.baselineOpsPerSec.toFixed(0).padStart(16)}   ${r.ratio.toFixed(2)}x  ${r.opsPerSec >= 200_000 ? 'ok' : 'MISSED'}`,
    );
  }
  return lines.join('\n');
}

runIfMain(import.meta.url, runContextualBench, formatContextualRows);
