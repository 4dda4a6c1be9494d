/** A raw `Rewards` stream to an aggregator: what a replica — or an attacker on the path — can send. */
import * as grpc from '@grpc/grpc-js';
import { STREAM_AUTH_HEADER, STREAM_NONCE_HEADER } from '../../src/aggregator/stream-auth.js';
import { aggregatorProto, type WireRewardAck, type WireRewardBatch } from '../../src/aggregator/proto.js';

export interface RawRewardStream {
  call: grpc.ClientDuplexStream<WireRewardBatch, WireRewardAck>;
  acks: WireRewardAck[];
  /** The nonce from the aggregator's response headers ('' without one). */
  nonce: Promise<string>;
  /** The status the stream closed with. */
  status: Promise<{ code: number; details: string }>;
  close(): void;
}

export function rawRewardStream(address: string, header: string | null, credentials = grpc.credentials.createInsecure()): RawRewardStream {
  const client = new (aggregatorProto().Client)(address, credentials, { 'grpc.max_send_message_length': 64 << 20 }) as unknown as {
    Rewards(m: grpc.Metadata): grpc.ClientDuplexStream<WireRewardBatch, WireRewardAck>;
    close(): void;
  };
  const md = new grpc.Metadata();
  if (header !== null) md.set(STREAM_AUTH_HEADER, header);
  const call = client.Rewards(md);
  const acks: WireRewardAck[] = [];
  call.on('data', (a: WireRewardAck) => acks.push(a));
  const nonce = new Promise<string>((r) => call.on('metadata', (m: grpc.Metadata) => r(String(m.get(STREAM_NONCE_HEADER)[0] ?? ''))));
  const status = new Promise<{ code: number; details: string }>((r) => {
    call.on('error', (e: grpc.ServiceError) => r({ code: e.code, details: e.details }));
    call.on('status', (s: grpc.StatusObject) => r({ code: s.code, details: s.details }));
  });
  return {
    call,
    acks,
    nonce,
    status,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

/** Polls `cond` every 10 ms, at most `ms`. */
export async function waitFor(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}
