/** gRPC transport for gossip exchanges. */
import * as grpc from '@grpc/grpc-js';
import { GRPC_CHANNEL_OPTIONS, unaryCall } from '../util/grpc.js';
import { gossipProto, type WireGossipMessage } from './proto.js';

export interface GossipTransport {
  /** Sends a push, resolves with the peer's raw answer (validated by the caller). */
  exchange(address: string, msg: WireGossipMessage, timeoutMs: number): Promise<unknown>;
  /** Closes clients for addresses no longer in use. */
  retain(addresses: ReadonlySet<string>): void;
  close(): void;
}

export class GrpcGossipTransport implements GossipTransport {
  private readonly clients = new Map<string, grpc.Client>();

  exchange(address: string, msg: WireGossipMessage, timeoutMs: number): Promise<unknown> {
    let c = this.clients.get(address);
    if (!c) {
      c = new (gossipProto().Client)(address, grpc.credentials.createInsecure(), GRPC_CHANNEL_OPTIONS);
      this.clients.set(address, c);
    }
    return unaryCall(c, 'Exchange', msg, timeoutMs);
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
