/** In-process gossip transport (simulator, benchmarks, tests): calls the peer node directly. */
import * as grpc from '@grpc/grpc-js';
import type { GossipNode } from './node.js';
import type { WireGossipMessage } from './proto.js';
import type { GossipTransport } from './transport.js';
import type { WireFeedbackMessage } from './feedback-message.js';

export class LocalTransport implements GossipTransport {
  /** Addresses that fail as if unreachable. */
  readonly down = new Set<string>();

  constructor(
    private readonly nodes: Map<string, GossipNode>,
    private readonly from = 'local',
  ) {}

  async exchange(address: string, msg: WireGossipMessage): Promise<unknown> {
    const node = this.nodes.get(address);
    if (!node || this.down.has(address)) throw serviceError(grpc.status.UNAVAILABLE, `${address} unreachable`);
    const r = node.handlePush(msg, this.from);
    if (!r.ok) throw serviceError(r.error.reason === 'invalid' ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAUTHENTICATED, r.error.message);
    return r.value;
  }

  async feedback(address: string, msg: WireFeedbackMessage): Promise<unknown> {
    const node = this.nodes.get(address);
    if (!node || this.down.has(address)) throw serviceError(grpc.status.UNAVAILABLE, `${address} unreachable`);
    const r = node.handleFeedback(msg, this.from);
    if (!r.ok) throw serviceError(r.error.reason === 'invalid' ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAUTHENTICATED, r.error.message);
    return r.value;
  }

  retain(): void {}
  close(): void {}
}

/** What the real transport's grpc-js client rejects with: an Error carrying the numeric gRPC status (GossipNode reads it). */
function serviceError(code: grpc.status, message: string): Error & { code: grpc.status } {
  // eslint-disable-next-line no-restricted-syntax -- imitates grpc-js's ServiceError, whose `code` is a gRPC status number
  return Object.assign(new Error(message), { code });
}
