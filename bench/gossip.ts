/**
 * Gossip rounds until 16 in-process replicas agree, fanout 2, push-pull over
 * the real GossipNode (signed messages, JSON snapshots, merge) with an
 * in-process transport (no network). Each replica records its own evidence
 * first; a round is every replica running one exchange round (in a random
 * order per round). Measured over many seeds: median, p90, max.
 *
 *   npm run build && node dist/bench/gossip.js
 */
import { LocalTransport } from '../src/gossip/local-transport.js';
import { GossipNode } from '../src/gossip/node.js';
import { pickRandom } from '../src/gossip/peers.js';
import { replicaGossipState } from '../src/gossip/state.js';
import { ReplicaState } from '../src/state/replica-state.js';
import { ManualClock } from '../src/util/clock.js';
import { silentLogger } from '../src/util/logger.js';
import { createRng } from '../src/util/rng.js';
import { runIfMain } from './main.js';

export interface GossipBenchOptions {
  replicas?: number;
  fanout?: number;
  seeds?: number;
  maxRounds?: number;
}

export interface GossipBenchResult {
  replicas: number;
  fanout: number;
  seeds: number;
  median: number;
  p90: number;
  max: number;
  /** rounds → number of seeds that converged in exactly that many rounds. */
  histogram: Record<number, number>;
  target: number;
}

export const GOSSIP_TARGET_ROUNDS = 4;
const SHAPES = [{ name: 'chat', arms: ['a', 'b'], drift: { mode: 'none' as const } }];
const SECRET = Buffer.from('bench-gossip-secret-0123');

async function roundsToConverge(n: number, fanout: number, seed: number, maxRounds: number): Promise<number> {
  const clock = new ManualClock(1_700_000_000_000);
  const nodes = new Map<string, GossipNode>();
  const addrs = Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:7946`);
  const transport = new LocalTransport(nodes);
  const states = addrs.map((_, i) => new ReplicaState(`r${i}`, SHAPES, clock));
  states.forEach((s, i) => {
    for (let k = 0; k <= i; k++) s.record(0, k % 2, 1);
  });
  const total = (n * (n + 1)) / 2;
  addrs.forEach((addr, i) =>
    nodes.set(
      addr,
      new GossipNode({
        state: replicaGossipState(states[i]!),
        peers: addrs,
        dns: null,
        listen: addr,
        intervalMs: 1000,
        fanout,
        syncTimeoutMs: 1000,
        secret: SECRET,
        transport,
        clock,
        rng: createRng(seed * 7919 + i),
        logger: silentLogger(),
        metrics: null,
      }),
    ),
  );
  const order = createRng(seed);
  const all = [...nodes.values()];
  const converged = () => states.every((s) => s.fleet(0, 0, { n: 0, sum: 0, sumSq: 0 }).n + s.fleet(0, 1, { n: 0, sum: 0, sumSq: 0 }).n === total);
  for (let round = 1; round <= maxRounds; round++) {
    for (const node of pickRandom(all, all.length, order)) await node.round();
    clock.advance(1000);
    if (converged()) return round;
  }
  return Number.POSITIVE_INFINITY;
}

export async function runGossipBench(opts: GossipBenchOptions = {}): Promise<GossipBenchResult> {
  const replicas = opts.replicas ?? 16;
  const fanout = opts.fanout ?? 2;
  const seeds = opts.seeds ?? 200;
  const maxRounds = opts.maxRounds ?? 20;
  const rounds: number[] = [];
  for (let s = 1; s <= seeds; s++) rounds.push(await roundsToConverge(replicas, fanout, s, maxRounds));
  rounds.sort((a, b) => a - b);
  const histogram: Record<number, number> = {};
  for (const r of rounds) histogram[r] = (histogram[r] ?? 0) + 1;
  const q = (p: number) => rounds[Math.min(rounds.length - 1, Math.floor(p * rounds.length))]!;
  return { replicas, fanout, seeds, median: q(0.5), p90: q(0.9), max: rounds.at(-1)!, histogram, target: GOSSIP_TARGET_ROUNDS };
}

export function formatGossipResult(r: GossipBenchResult): string {
  return [
    `gossip convergence: ${r.replicas} replicas, fanout ${r.fanout}, ${r.seeds} seeds (push-pull, in-process)`,
    `  rounds: median ${r.median}, p90 ${r.p90}, max ${r.max}  (target <= ${r.target}: ${r.max <= r.target ? 'met' : r.median <= r.target ? 'met by the median, not the max' : 'NOT met'})`,
    `  histogram: ${Object.entries(r.histogram).map(([k, v]) => `${k} rounds: ${v}`).join(', ')}`,
  ].join('\n');
}

runIfMain(import.meta.url, () => runGossipBench(), formatGossipResult);
