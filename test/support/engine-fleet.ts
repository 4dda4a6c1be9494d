/**
 * Several replicas in one process: an Engine and ReplicaState per replica,
 * each with a real GossipNode (HMAC-signed messages, admission caps, the
 * merge) exchanging over the in-process transport, all on one manual clock.
 */
import type { Config } from '../../src/config/types.js';
import { LocalTransport } from '../../src/gossip/local-transport.js';
import { GossipNode } from '../../src/gossip/node.js';
import { replicaGossipState } from '../../src/gossip/state.js';
import { ManualClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createRng } from '../../src/util/rng.js';
import { testEngine } from './engine.js';

const SECRET = Buffer.from('engine-fleet-test-secret');

export function engineFleet(configs: readonly Config[], seed = 1, clock = new ManualClock(1_700_000_000_000)) {
  const nodes = new Map<string, GossipNode>();
  const transport = new LocalTransport(nodes);
  const addrs = configs.map((_, i) => `10.0.0.${i + 1}:7946`);
  const replicas = configs.map((cfg, i) => {
    const t = testEngine(cfg, seed * 100 + i, clock, { propensities: true });
    const node = new GossipNode({
      state: replicaGossipState(t.state),
      peers: addrs,
      dns: null,
      listen: addrs[i]!,
      intervalMs: 1000,
      fanout: 2,
      syncTimeoutMs: 5000,
      secret: SECRET,
      transport,
      clock,
      rng: createRng(seed * 1000 + i),
      logger: silentLogger(),
      metrics: null,
    });
    nodes.set(addrs[i]!, node);
    return { ...t, node };
  });
  /** `n` gossip rounds on every replica, in order. */
  const gossip = async (n = 3) => {
    for (let k = 0; k < n; k++) for (const r of replicas) await r.node.round();
  };
  return { clock, replicas, gossip };
}
