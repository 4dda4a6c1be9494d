/** In-process gossip transport (simulator, benchmarks, tests): calls the peer node directly. */
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
    if (!node || this.down.has(address)) throw Object.assign(new Error(`${address} unreachable`), { code: 14 });
    const r = node.handlePush(msg, this.from);
    if (!r.ok) throw Object.assign(new Error(r.error.message), { code: r.error.reason === 'invalid' ? 3 : 16 });
    return r.value;
  }

  async feedback(address: string, msg: WireFeedbackMessage): Promise<unknown> {
    const node = this.nodes.get(address);
    if (!node || this.down.has(address)) throw Object.assign(new Error(`${address} unreachable`), { code: 14 });
    const r = node.handleFeedback(msg, this.from);
    if (!r.ok) throw Object.assign(new Error(r.error.message), { code: r.error.reason === 'invalid' ? 3 : 16 });
    return r.value;
  }

  retain(): void {}
  close(): void {}
}
