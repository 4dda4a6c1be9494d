/** gRPC transport for gossip exchanges and the aggregator bootstrap. */
import * as grpc from '@grpc/grpc-js';
import { banditProtos, GRPC_CHANNEL_OPTIONS, type WireGossipMessage } from './proto.js';
import type { WireFeedbackMessage } from './feedback-message.js';

export interface GossipTransport {
  /** Sends a push, resolves with the peer's raw answer (validated by the caller). */
  exchange(address: string, msg: WireGossipMessage, timeoutMs: number): Promise<unknown>;
  /** Forwards feedback to the replica at `address`, resolves with its raw answer (validated by the caller). */
  feedback(address: string, msg: WireFeedbackMessage, timeoutMs: number): Promise<unknown>;
  /** Closes clients for addresses no longer in use. */
  retain(addresses: ReadonlySet<string>): void;
  close(): void;
}

type UnaryFn = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: unknown) => void) => void;

function unary(client: grpc.Client, method: string, req: unknown, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, UnaryFn>)[method]!;
    fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (e, res) => (e ? reject(e) : resolve(res)));
  });
}

export class GrpcGossipTransport implements GossipTransport {
  private readonly clients = new Map<string, grpc.Client>();

  exchange(address: string, msg: WireGossipMessage, timeoutMs: number): Promise<unknown> {
    return unary(this.client(address), 'Exchange', msg, timeoutMs);
  }

  feedback(address: string, msg: WireFeedbackMessage, timeoutMs: number): Promise<unknown> {
    return unary(this.client(address), 'Feedback', msg, timeoutMs);
  }

  private client(address: string): grpc.Client {
    let c = this.clients.get(address);
    if (!c) {
      c = new (banditProtos().GossipClient)(address, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
      this.clients.set(address, c);
    }
    return c;
  }

  retain(addresses: ReadonlySet<string>): void {
    for (const [a, c] of this.clients) {
      if (!addresses.has(a)) {
        c.close();
        this.clients.delete(a);
      }
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** One GetSnapshot call to the aggregator; resolves with its raw GossipMessage. */
export async function fetchAggregatorSnapshot(address: string, replica: string, timeoutMs: number): Promise<unknown> {
  const c = new (banditProtos().AggregatorClient)(address, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
  try {
    return await unary(c, 'GetSnapshot', { replica }, timeoutMs);
  } finally {
    c.close();
  }
}
