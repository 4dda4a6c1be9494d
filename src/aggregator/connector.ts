/** The aggregator's gRPC client side: the reward stream (one bidi `Rewards` call per connection) and the GetSnapshot bootstrap. */
import * as grpc from '@grpc/grpc-js';
import { GRPC_CHANNEL_OPTIONS, unaryCall } from '../util/grpc.js';
import { aggregatorProto, type WireRewardAck, type WireRewardBatch } from './proto.js';
import type { RewardConnector } from './client.js';
import { STREAM_AUTH_HEADER } from './stream-auth.js';

export interface GrpcRewardConnector {
  connect: RewardConnector;
  close(): void;
}

/** `auth`, when given, returns the stream's authentication value (see stream-auth.ts) at each connect. */
export function grpcRewardConnector(address: string, auth?: () => string): GrpcRewardConnector {
  const client = new (aggregatorProto().Client)(address, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
  const connect: RewardConnector = (h) => {
    const metadata = new grpc.Metadata();
    if (auth) metadata.set(STREAM_AUTH_HEADER, auth());
    const call = (client as unknown as { Rewards(m: grpc.Metadata): grpc.ClientDuplexStream<WireRewardBatch, WireRewardAck> }).Rewards(metadata);
    let done = false;
    const close = (e: Error | null) => {
      if (done) return;
      done = true;
      h.onClose(e);
    };
    call.on('data', (ack: WireRewardAck) => h.onAck(ack));
    call.on('error', (e: Error) => close(e));
    call.on('end', () => close(null));
    return {
      send: (b) => void call.write(b),
      end: () => call.end(),
      cancel: () => {
        done = true;
        call.cancel();
      },
    };
  };
  return { connect, close: () => client.close() };
}

/** One GetSnapshot call to the aggregator; resolves with its raw GossipMessage (validated by the caller). */
export async function fetchAggregatorSnapshot(address: string, replica: string, timeoutMs: number): Promise<unknown> {
  const c = new (aggregatorProto().Client)(address, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
  try {
    return await unaryCall(c, 'GetSnapshot', { replica }, timeoutMs);
  } finally {
    c.close();
  }
}
