/**
 * Loads proto/envoy_bandit/v1/{gossip,aggregator}.proto with proto-loader
 * (keepCase, int64 as Number, bytes as Buffer). Gossip and the reward stream
 * are batched and off the request path, so dynamic loading is fine here.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export const GOSSIP_PROTO = 'envoy_bandit/v1/gossip.proto';
export const AGGREGATOR_PROTO = 'envoy_bandit/v1/aggregator.proto';
/** Snapshots and batches are small; this caps what a peer can make us buffer. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export const GRPC_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  // Reconnect quickly after a peer restarts (grpc-js defaults to 1 s .. 120 s).
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
};

export interface WireGossipMessage {
  sender: string;
  time_ms: number;
  snapshot: Buffer;
  mac: Buffer;
  kind: string;
}

export interface WireReward {
  decision_id: string;
  route: string;
  arm: string;
  reward: number;
  source: string;
  time_ms: number;
}

export interface WireRewardBatch {
  replica: string;
  seq: number;
  rewards: WireReward[];
  /** Per-batch MAC (stream-auth.ts); absent or empty without a fleet secret. */
  mac?: Buffer;
}

export interface WireRewardAck {
  seq: number;
  accepted: number;
  duplicates: number;
}

type ClientCtor = grpc.ServiceClientConstructor;

export interface BanditProtos {
  gossipService: grpc.ServiceDefinition;
  aggregatorService: grpc.ServiceDefinition;
  GossipClient: ClientCtor;
  AggregatorClient: ClientCtor;
}

function findProtoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, GOSSIP_PROTO))) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error(`proto/${GOSSIP_PROTO} not found above ${fileURLToPath(import.meta.url)}`);
}

let cached: BanditProtos | undefined;

export function banditProtos(): BanditProtos {
  if (cached) return cached;
  const def = loadSync([GOSSIP_PROTO, AGGREGATOR_PROTO], {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
    includeDirs: [findProtoRoot()],
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { envoy_bandit: { v1: { Gossip: ClientCtor; Aggregator: ClientCtor } } };
  const { Gossip, Aggregator } = pkg.envoy_bandit.v1;
  cached = { gossipService: Gossip.service, aggregatorService: Aggregator.service, GossipClient: Gossip, AggregatorClient: Aggregator };
  return cached;
}

/** Binds a grpc server on a `host:port` address; resolves with the real port. */
export function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolvePort(port)));
  });
}

/** Graceful shutdown bounded by `ms`, then force. */
export function shutdownServer(server: grpc.Server, ms: number): Promise<void> {
  return new Promise((done) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      done();
    }, ms);
    t.unref();
    server.tryShutdown(() => {
      clearTimeout(t);
      done();
    });
  });
}
