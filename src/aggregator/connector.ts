/** The aggregator's gRPC client side: the reward stream (one bidi `Rewards` call per connection) and the GetSnapshot bootstrap. */
import * as grpc from '@grpc/grpc-js';
import { GRPC_CHANNEL_OPTIONS, unaryCall } from '../util/grpc.js';
import { aggregatorProto, type WireRewardAck, type WireRewardBatch } from './proto.js';
import type { RewardConnector } from './client.js';
import { BanditError, ErrorCodes } from '../util/errors.js';
import { batchMac, signStream, STREAM_AUTH_HEADER, STREAM_NONCE_HEADER } from './stream-auth.js';

/** The fleet secret and who we are: every stream is signed, every batch carries a MAC (stream-auth.ts). */
export interface StreamAuth {
  secret: Buffer;
  replica: string;
  now(): number;
}

export interface GrpcRewardConnector {
  connect: RewardConnector;
  close(): void;
}

export interface RewardConnectorOptions {
  auth?: StreamAuth | null;
  /** Mutual TLS (util/tls-files.ts; reloaded certificates apply to new connections); plaintext by default. */
  credentials?: grpc.ChannelCredentials;
}

export function grpcRewardConnector(address: string, opts: RewardConnectorOptions = {}): GrpcRewardConnector {
  const client = new (aggregatorProto().Client)(address, opts.credentials ?? grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
  const auth = opts.auth ?? null;
  const connect: RewardConnector = (h) => {
    const metadata = new grpc.Metadata();
    if (auth) metadata.set(STREAM_AUTH_HEADER, signStream(auth.secret, auth.replica, auth.now()));
    const call = (client as unknown as { Rewards(m: grpc.Metadata): grpc.ClientDuplexStream<WireRewardBatch, WireRewardAck> }).Rewards(metadata);
    let done = false;
    // With a secret, batches wait for the aggregator's nonce (its response headers), then are signed with it.
    let nonce: string | null = null;
    let waiting: WireRewardBatch[] = [];
    let endAfterNonce = false;
    const write = (b: WireRewardBatch) => void call.write(auth && nonce !== null ? { ...b, mac: batchMac(auth.secret, nonce, b) } : b);
    const close = (e: Error | null) => {
      if (done) return;
      done = true;
      h.onClose(e);
    };
    call.on('metadata', (md: grpc.Metadata) => {
      if (!auth || nonce !== null) return;
      const v = md.get(STREAM_NONCE_HEADER)[0];
      if (typeof v !== 'string' || v === '') {
        call.cancel();
        close(new BanditError(ErrorCodes.REWARD_STREAM_AUTH, `aggregator sent no ${STREAM_NONCE_HEADER}: it cannot check batch MACs`));
        return;
      }
      nonce = v;
      const queued = waiting;
      waiting = [];
      for (const b of queued) write(b);
      if (endAfterNonce) call.end();
    });
    call.on('data', (ack: WireRewardAck) => h.onAck(ack));
    call.on('error', (e: Error) => close(e));
    call.on('end', () => close(null));
    return {
      send: (b) => {
        if (auth && nonce === null) waiting.push(b);
        else write(b);
      },
      end: () => {
        if (auth && nonce === null) endAfterNonce = true;
        else call.end();
      },
      cancel: () => {
        done = true;
        call.cancel();
      },
    };
  };
  return { connect, close: () => client.close() };
}

/** One GetSnapshot call to the aggregator; resolves with its raw GossipMessage (validated by the caller). */
export async function fetchAggregatorSnapshot(address: string, replica: string, timeoutMs: number, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): Promise<unknown> {
  const c = new (aggregatorProto().Client)(address, credentials, GRPC_CHANNEL_OPTIONS);
  try {
    return await unaryCall(c, 'GetSnapshot', { replica }, timeoutMs);
  } finally {
    c.close();
  }
}
