/**
 * The gossip mesh carrying feedback to the replica that issued a decision:
 * signed with the fleet secret under its own domain, addressed to one replica
 * (another refuses it), found by where it last answered a gossip exchange or,
 * for a replica never called yet, among the peer addresses not yet named.
 */
import { describe, expect, it } from 'vitest';
import { encodeFeedbackMessage, verifyFeedbackMessage } from '../../src/gossip/feedback-message.js';
import { LocalTransport } from '../../src/gossip/local-transport.js';
import { encodeMessage, verifyMessage } from '../../src/gossip/message.js';
import { GossipNode } from '../../src/gossip/node.js';
import { replicaGossipState } from '../../src/gossip/state.js';
import { ReplicaState } from '../../src/state/replica-state.js';
import { ManualClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createRng } from '../../src/util/rng.js';

const SHAPES = [{ name: 'chat', arms: ['a', 'b'], drift: { mode: 'none' as const } }];
const SECRET = Buffer.from('a-shared-secret-16+');
const NOW = 1_000_000;

function mesh(n: number, secretOf: (i: number) => Buffer | null = () => SECRET) {
  const clock = new ManualClock(NOW);
  const byAddr = new Map<string, GossipNode>();
  const addrs = Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:7946`);
  const transport = new LocalTransport(byAddr);
  const seen: Array<{ at: string; body: unknown; from: string }> = [];
  const nodes = addrs.map((addr, i) => {
    const node = new GossipNode({
      state: replicaGossipState(new ReplicaState(`r${i}`, SHAPES, clock)),
      peers: addrs,
      dns: null,
      listen: addr,
      intervalMs: 1000,
      fanout: 1,
      syncTimeoutMs: 5000,
      secret: secretOf(i),
      transport,
      clock,
      rng: createRng(10 + i),
      logger: silentLogger(),
      metrics: null,
    });
    node.feedbackHandler = (body, from) => {
      seen.push({ at: `r${i}`, body, from });
      return [{ settled_here: `r${i}`, got: body }];
    };
    byAddr.set(addr, node);
    return node;
  });
  return { clock, nodes, addrs, transport, seen, byAddr };
}

describe('forwarding feedback over the gossip mesh', () => {
  it('reaches the issuer even before any gossip round named it, and returns the issuer’s answer', async () => {
    const { nodes, seen } = mesh(4);
    const r = await nodes[0]!.forwardFeedback('r3', [{ decision_id: 'd', reward: 1 }]);
    expect(r).toEqual({ ok: true, value: [{ settled_here: 'r3', got: [{ decision_id: 'd', reward: 1 }] }] });
    expect(seen).toEqual([{ at: 'r3', body: [{ decision_id: 'd', reward: 1 }], from: 'r0' }]);
    // Known now: the next forward goes straight there.
    expect(nodes[0]!.membership.addressOf('r3')).toBe('10.0.0.4:7946');
  });

  it('an issuer that is down, or not in the mesh at all, is an error naming it; nothing is settled', async () => {
    const { nodes, addrs, transport, seen, clock } = mesh(3);
    await nodes[0]!.round();
    await nodes[0]!.forwardFeedback('r2', []);
    transport.down.add(addrs[2]!);
    const down = await nodes[0]!.forwardFeedback('r2', [{ decision_id: 'd', reward: 1 }]);
    expect(down).toMatchObject({ ok: false, error: expect.stringMatching(/"r2" at 10\.0\.0\.3:7946: .*unreachable/) });
    clock.advance(2_000);
    const gone = await nodes[0]!.forwardFeedback('r9', [{ decision_id: 'd', reward: 1 }]);
    expect(gone).toMatchObject({ ok: false, error: expect.stringMatching(/"r9" is not in the gossip mesh/) });
    expect(seen.filter((s) => Array.isArray(s.body) && s.body.length > 0)).toEqual([]);
  });

  it('a member without a feedback handler (the aggregator) refuses forwarded feedback', async () => {
    const { nodes } = mesh(2);
    nodes[1]!.feedbackHandler = null;
    const r = await nodes[0]!.forwardFeedback('r1', [{ decision_id: 'd', reward: 1 }]);
    expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/settles no feedback/) });
  });

  it('a forward signed with another secret is refused as unauthenticated; so is one without a MAC', async () => {
    const { nodes } = mesh(2, (i) => (i === 0 ? Buffer.from('another-secret-of-16+') : SECRET));
    const r = await nodes[0]!.forwardFeedback('r1', [{ decision_id: 'd', reward: 1 }]);
    expect(r.ok).toBe(false);
    const unsigned = encodeFeedbackMessage('forward', 'r0', 'r1', [], NOW, null);
    const v = nodes[1]!.handleFeedback(unsigned, 'test');
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.error.message).toMatch(/bad MAC/);
  });

  it('messages are bound to their target, kind and domain: none can be replayed as another', () => {
    const msg = encodeFeedbackMessage('forward', 'r0', 'r1', [{ decision_id: 'd', reward: 1 }], NOW, SECRET);
    expect(verifyFeedbackMessage(msg, 'forward', 'r1', SECRET, NOW)).toMatchObject({ ok: true, value: { sender: 'r0', body: [{ decision_id: 'd', reward: 1 }] } });
    // For another replica (a stale address now serving another id).
    const other = verifyFeedbackMessage(msg, 'forward', 'r2', SECRET, NOW);
    expect(other.ok).toBe(false);
    if (!other.ok) expect(other.error.message).toMatch(/for replica "r1"/);
    // Retargeted by hand: the MAC covers the target.
    expect(verifyFeedbackMessage({ ...msg, target: 'r2' }, 'forward', 'r2', SECRET, NOW).ok).toBe(false);
    // An answer cannot pass for a forward, nor a gossip push for either.
    expect(verifyFeedbackMessage({ ...msg, kind: 'answer' }, 'answer', 'r1', SECRET, NOW).ok).toBe(false);
    const push = encodeMessage('push', 'r0', { slots: {}, records: {}, tombstones: {} }, NOW, SECRET);
    expect(verifyFeedbackMessage({ ...push, target: 'r1', body: push.snapshot, kind: 'forward' }, 'forward', 'r1', SECRET, NOW).ok).toBe(false);
    expect(verifyMessage({ ...msg, snapshot: msg.body, kind: 'push' }, 'push', SECRET, NOW).ok).toBe(false);
    // Outside the skew window.
    expect(verifyFeedbackMessage(msg, 'forward', 'r1', SECRET, NOW + 60_000)).toMatchObject({ ok: false });
  });

  it('an answer from an address that now serves another replica is not taken as the issuer’s', async () => {
    const { nodes, addrs, byAddr } = mesh(3);
    await nodes[0]!.forwardFeedback('r2', []);
    // r2's address now answers as r1 (a pod replaced at the same address): r1 refuses a forward meant for r2.
    byAddr.set(addrs[2]!, nodes[1]!);
    const r = await nodes[0]!.forwardFeedback('r2', [{ decision_id: 'd', reward: 1 }]);
    expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/for replica "r2"/) });
  });
});
