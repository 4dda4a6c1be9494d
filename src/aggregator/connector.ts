/** The gRPC side of the reward stream: one bidi `Rewards` call per connection. */
import * as grpc from '@grpc/grpc-js';
import { banditProtos, GRPC_CHANNEL_OPTIONS, type WireRewardAck, type WireRewardBatch } from '../gossip/proto.js';
import type { RewardConnector } from './client.js';
import { STREAM_AUTH_HEADER } from './stream-auth.js';

export interface GrpcRewardConnector {
  connect: RewardConnector;
  close(): void;
}

/** `auth`, when given, returns the stream's authentication value (see stream-auth.ts) at each connect. */
export function grpcRewardConnector(address: string, auth?: () => string): GrpcRewardConnector {
  const client = new (banditProtos().AggregatorClient)(address, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
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
