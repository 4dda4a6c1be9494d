/**
 * Rewards per second the aggregator ingests over loopback gRPC from N
 * concurrent replica streams (the real RewardStreamClient: batching, seq,
 * acks), with dedupe and the JSONL log (fsync batch), side by side with the
 * same load against a no-op server that acks each batch without dedupe or log.
 *
 *   npm run build && node dist/bench/aggregator.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { RewardStreamClient } from '../src/aggregator/client.js';
import { grpcRewardConnector } from '../src/aggregator/connector.js';
import { AggregatorServer } from '../src/aggregator/server.js';
import type { Config } from '../src/config/types.js';
import { bindServer, GRPC_SERVER_OPTIONS, shutdownServer } from '../src/util/grpc.js';
import { aggregatorProto, type WireRewardAck, type WireRewardBatch } from '../src/aggregator/proto.js';
import { systemClock } from '../src/util/clock.js';
import { silentLogger } from '../src/util/logger.js';
import { createRng } from '../src/util/rng.js';
import { runIfMain } from './main.js';

export interface AggregatorBenchOptions {
  streams?: number;
  rewardsPerStream?: number;
  batch?: number;
  fsync?: 'always' | 'batch' | 'none';
}

export interface AggregatorBenchResult {
  streams: number;
  rewards: number;
  batch: number;
  fsync: string;
  /** Rewards per second, offered to acked, through the real aggregator. */
  aggregatorPerSec: number;
  /** Same load against a server that only acks. */
  noopPerSec: number;
  /** aggregatorPerSec / noopPerSec. */
  ratio: number;
  /** Aggregator target on a 2-core machine. */
  target: number;
}

export const AGGREGATOR_TARGET_PER_SEC = 50_000;

function config(address: string, logFile: string, batch: number, fsync: 'always' | 'batch' | 'none'): Config {
  return {
    replica_id: 'aggregator',
    listen: { ext_proc: '127.0.0.1:0', admin: '127.0.0.1:0', ext_proc_transport: 'http2' },
    routes: [],
    outcomes: { source: 'response_headers', max_pending: 1, pending_ttl_ms: 1_000 },
    aggregator: { address, batch, flush_ms: 5, buffer: 1_000_000, log_file: logFile, fsync, log_max_bytes: null, log_keep: 1 },
    gossip: null,
    state: { snapshot_file: null, interval_ms: 60_000, slot_expiry_ms: 30 * 60_000 },
    admin: { token_file: null },
    decision_ids: { secret_file: null },
    log: { level: 'silent', decisions_file: null, decisions_max_bytes: 1, decisions_keep: 1 },
    notifications: { webhooks: [], kubernetes_events: 'off', timeout_ms: 1_000, retries: 0, queue: 1, settle_ms: 0 },
    tls: null,
  };
}

async function noopServer(): Promise<{ address: string; stop(): Promise<void> }> {
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  server.addService(aggregatorProto().service, {
    Rewards(call: grpc.ServerDuplexStream<WireRewardBatch, WireRewardAck>) {
      call.on('data', (b: WireRewardBatch) => call.write({ seq: b.seq, accepted: b.rewards.length, duplicates: 0 }));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
    GetSnapshot(_c: unknown, cb: grpc.sendUnaryData<unknown>) {
      cb({ code: grpc.status.UNIMPLEMENTED });
    },
  });
  const port = await bindServer(server, '127.0.0.1:0');
  return { address: `127.0.0.1:${port}`, stop: () => shutdownServer(server, 1000) };
}

/** Offers every reward from `streams` clients at once; resolves with the elapsed seconds until all are acked. */
async function drive(address: string, streams: number, perStream: number, batch: number, tag: string): Promise<number> {
  const conns = Array.from({ length: streams }, () => grpcRewardConnector(address));
  const clients = conns.map(
    (c, i) =>
      new RewardStreamClient({ replica: `r${i}`, batch, flushMs: 5, buffer: perStream + batch, connect: c.connect, clock: systemClock, rng: createRng(i + 1), logger: silentLogger(), metrics: null, maxInFlight: 32 }),
  );
  clients.forEach((c) => c.start());
  const t0 = performance.now();
  // Offer in slices so the event loop also serves the streams, as a live sidecar would.
  const SLICE = 2_000;
  for (let off = 0; off < perStream; off += SLICE) {
    clients.forEach((c, i) => {
      for (let k = off; k < Math.min(perStream, off + SLICE); k++) {
        c.offer({ decisionId: `${tag}-${i}-${k}-abcdefghijklmnopqrstuvwxyz0123456789abcdefghij`, route: 'chat', arm: k % 2 ? 'model-a' : 'model-b', reward: k % 3 ? 1 : 0, source: 'response', time: 1_700_000_000_000 });
      }
    });
    await new Promise((r) => setImmediate(r));
  }
  await new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 120_000;
    const check = () => {
      if (clients.every((c) => c.stats().acked === perStream)) resolve();
      else if (Date.now() > deadline) reject(new Error('bench: acks did not arrive in 120 s'));
      else setTimeout(check, 2);
    };
    check();
  });
  const secs = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.stop(100)));
  conns.forEach((c) => c.close());
  return secs;
}

export async function runAggregatorBench(opts: AggregatorBenchOptions = {}): Promise<AggregatorBenchResult> {
  const streams = opts.streams ?? 4;
  const perStream = opts.rewardsPerStream ?? 50_000;
  const batch = opts.batch ?? 256;
  const fsync = opts.fsync ?? 'batch';
  const dir = mkdtempSync(join(tmpdir(), 'eb-bench-agg-'));
  try {
    const noop = await noopServer();
    await drive(noop.address, streams, Math.min(perStream, 5_000), batch, 'warm');
    const noopSecs = await drive(noop.address, streams, perStream, batch, 'noop');
    await noop.stop();

    const server = new AggregatorServer({ config: config('127.0.0.1:0', join(dir, 'rewards.jsonl'), batch, fsync), logger: silentLogger(), admin: false, registry: new Registry() });
    const { aggregator } = await server.start();
    await drive(aggregator, streams, Math.min(perStream, 5_000), batch, 'warm');
    const secs = await drive(aggregator, streams, perStream, batch, 'real');
    const logged = server.summary().rewards;
    await server.stop();
    const total = streams * perStream;
    if (logged !== total + streams * Math.min(perStream, 5_000)) throw new Error(`bench: ${logged} rewards logged, expected ${total} + warm-up`);
    const aggregatorPerSec = total / secs;
    const noopPerSec = total / noopSecs;
    return { streams, rewards: total, batch, fsync, aggregatorPerSec, noopPerSec, ratio: aggregatorPerSec / noopPerSec, target: AGGREGATOR_TARGET_PER_SEC };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatAggregatorResult(r: AggregatorBenchResult): string {
  const k = (x: number) => `${(x / 1000).toFixed(1)}k/s`;
  return [
    `aggregator ingest: ${r.streams} streams x ${r.rewards / r.streams} rewards, batch ${r.batch}, fsync ${r.fsync}`,
    `  aggregator (dedupe + JSONL log): ${k(r.aggregatorPerSec)}  (target >= ${k(r.target)}: ${r.aggregatorPerSec >= r.target ? 'met' : 'NOT met'})`,
    `  no-op server (ack only):         ${k(r.noopPerSec)}`,
    `  ratio aggregator / no-op:        ${r.ratio.toFixed(3)}x`,
  ].join('\n');
}

runIfMain(import.meta.url, () => runAggregatorBench(), formatAggregatorResult);
