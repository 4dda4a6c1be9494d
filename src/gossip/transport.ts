/** gRPC transport for gossip exchanges and forwarded feedback. */
import * as grpc from '@grpc/grpc-js';
import { GRPC_CHANNEL_OPTIONS, unaryCall } from '../util/grpc.js';
import { gossipProto, type WireGossipMessage } from './proto.js';
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

export class GrpcGossipTransport implements GossipTransport {
  private readonly clients = new Map<string, grpc.Client>();

  /** `credentials`: mutual TLS (util/tls-files.ts) or, by default, plaintext. */
  constructor(private readonly credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {}

  exchange(address: string, msg: WireGossipMessage, timeoutMs: number): Promise<unknown> {
    return unaryCall(this.client(address), 'Exchange', msg, timeoutMs);
  }

  feedback(address: string, msg: WireFeedbackMessage, timeoutMs: number): Promise<unknown> {
    return unaryCall(this.client(address), 'Feedback', msg, timeoutMs);
  }

  private client(address: string): grpc.Client {
    let c = this.clients.get(address);
    if (!c) {
      c = new (gossipProto().Client)(address, this.credentials, GRPC_CHANNEL_OPTIONS);
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
