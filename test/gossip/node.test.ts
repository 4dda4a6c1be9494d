import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { LocalTransport } from '../../src/gossip/local-transport.js';
import { LEAVE_AFTER_FAILURES } from '../../src/gossip/membership.js';
import { GossipNode } from '../../src/gossip/node.js';
import { pickRandom, resolvePeers, splitDnsName } from '../../src/gossip/peers.js';
import { replicaGossipState } from '../../src/gossip/state.js';
import { ReplicaState } from '../../src/state/replica-state.js';
import { ManualClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createRng } from '../../src/util/rng.js';

const SHAPES = [{ name: 'chat', arms: ['a', 'b'], drift: { mode: 'none' as const } }];
const SECRET = Buffer.from('a-shared-secret-16+');

function mesh(n: number, opts: { secret?: (i: number) => Buffer | null; peers?: (addr: string[], i: number) => string[]; seed?: number } = {}) {
  const clock = new ManualClock(1_000_000);
  const nodes = new Map<string, GossipNode>();
  const addrs = Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:7946`);
  const transport = new LocalTransport(nodes);
  const states = addrs.map((_, i) => new ReplicaState(`r${i}`, SHAPES, clock));
  const metrics = addrs.map(() => createMetrics(new Registry()));
  addrs.forEach((addr, i) => {
    nodes.set(
      addr,
      new GossipNode({
        state: replicaGossipState(states[i]!),
        peers: opts.peers ? opts.peers(addrs, i) : addrs,
        dns: null,
        listen: addr,
        intervalMs: 1000,
        fanout: 2,
        syncTimeoutMs: 5000,
        secret: opts.secret ? opts.secret(i) : SECRET,
        transport,
        clock,
        rng: createRng((opts.seed ?? 1) * 100 + i),
        logger: silentLogger(),
        metrics: metrics[i]!,
      }),
    );
  });
  return { clock, nodes: [...nodes.values()], states, addrs, transport, metrics };
}

const fleetA = (s: ReplicaState) => s.fleet(0, 0, { n: 0, sum: 0, sumSq: 0 }).n;
const counter = async (m: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>) => {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
};

describe('GossipNode', () => {
  it('spreads one replica’s evidence to 8 replicas within a few rounds, and everyone agrees', async () => {
    const { nodes, states } = mesh(8);
    for (let i = 0; i < 50; i++) states[0]!.record(0, 0, 1);
    let rounds = 0;
    while (rounds < 20 && !states.every((s) => fleetA(s) === 50)) {
      rounds++;
      for (const n of nodes) await n.round();
    }
    expect(states.map(fleetA)).toEqual(Array(8).fill(50));
    // log2(8) = 3; push-pull with fanout 2 typically needs 2-3 rounds; 8 is a generous bound.
    expect(rounds).toBeLessThanOrEqual(8);
    expect(nodes.every((n) => n.isSynced)).toBe(true);
  });

  it('pushes its last state once as it stops, so what it wrote while stopping reaches a peer', async () => {
    const { nodes, states } = mesh(2);
    nodes[0]!.start();
    states[0]!.record(0, 0, 1);
    await nodes[0]!.stop();
    expect(fleetA(states[1]!)).toBe(1);
  });

  it('is ready at once with no peers, otherwise after the first exchange', async () => {
    const solo = mesh(1, { peers: () => [] });
    solo.nodes[0]!.start();
    expect(solo.nodes[0]!.readiness()).toBe(true);
    await solo.nodes[0]!.stop();
    const { nodes, states, transport, addrs } = mesh(3);
    states[0]!.record(0, 0, 1);
    expect(states[2]!.adoptionIsOpen).toBe(true);
    expect(nodes[2]!.readiness()).toMatch(/waiting/);
    // One answer is not enough with fanout 2: that peer could lag.
    transport.down.add(addrs[1]!);
    await nodes[2]!.round();
    expect(fleetA(states[2]!)).toBe(1);
    expect(nodes[2]!.readiness()).toMatch(/waiting/);
    transport.down.clear();
    await nodes[2]!.round();
    expect(nodes[2]!.readiness()).toBe(true);
    expect(states[2]!.adoptionIsOpen).toBe(false);
    // Being pushed to is not a sync of our own.
    expect(nodes[0]!.readiness()).toMatch(/waiting/);
  });

  it('rejects and counts a member with the wrong secret; the others still converge', async () => {
    const { nodes, states, metrics } = mesh(3, { secret: (i) => (i === 2 ? Buffer.from('the-wrong-secret-16+') : SECRET) });
    states[0]!.record(0, 0, 1);
    for (let r = 0; r < 3; r++) for (const n of nodes) await n.round();
    expect(fleetA(states[1]!)).toBe(1);
    expect(fleetA(states[2]!)).toBe(0);
    const rejected = (await counter(metrics[0]!, 'envoy_bandit_gossip_rounds_total', { outcome: 'auth_failed' })) + (await counter(metrics[1]!, 'envoy_bandit_gossip_rounds_total', { outcome: 'auth_failed' }));
    expect(rejected).toBeGreaterThan(0);
    expect(await counter(metrics[2]!, 'envoy_bandit_gossip_rounds_total', { outcome: 'auth_rejected' })).toBeGreaterThan(0);
  });

  it('marks an unreachable peer suspect, then left after repeated failures; the rest converge', async () => {
    const { nodes, states, addrs, transport, metrics } = mesh(4);
    transport.down.add(addrs[3]!);
    states[0]!.record(0, 0, 1);
    for (let r = 0; r < 12; r++) for (const n of nodes.slice(0, 3)) await n.round();
    expect(states.slice(0, 3).map(fleetA)).toEqual([1, 1, 1]);
    expect(nodes[0]!.membership.stateOf(addrs[3]!)).toBe('left');
    expect(await counter(metrics[0]!, 'envoy_bandit_gossip_peers', { state: 'alive' })).toBe(2);
    expect(await counter(metrics[0]!, 'envoy_bandit_gossip_rounds_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(LEAVE_AFTER_FAILURES);
  });

  it('publishes staleness per peer from the time its slot last advanced', async () => {
    const { nodes, states, clock, metrics } = mesh(2);
    states[0]!.record(0, 0, 1);
    await nodes[1]!.round();
    clock.advance(7000);
    await nodes[1]!.round();
    expect(await counter(metrics[1]!, 'envoy_bandit_state_staleness_seconds', { peer: 'r0' })).toBe(7);
  });
});

describe('peer selection', () => {
  it('picks distinct random peers, at most fanout', () => {
    const rng = createRng(7);
    const items = ['a', 'b', 'c', 'd', 'e'];
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const p = pickRandom(items, 2, rng);
      expect(new Set(p).size).toBe(2);
      p.forEach((x) => seen.add(x));
    }
    expect(seen.size).toBe(5);
    expect(pickRandom(items, 9, rng).sort()).toEqual(items);
  });

  it('merges static peers with A and AAAA records, drops itself, ports from the name or the listen port', async () => {
    const resolver = {
      resolve4: async (n: string) => (n === 'bandit.svc' ? ['10.0.0.1', '10.0.0.2'] : []),
      resolve6: async () => ['fd00::1'],
    };
    const r = await resolvePeers(['10.0.0.9:7000'], 'bandit.svc', '10.0.0.1:7946', resolver);
    expect(r.addresses.sort()).toEqual(['10.0.0.2:7946', '10.0.0.9:7000', '[fd00::1]:7946'].sort());
    expect(splitDnsName('bandit.svc:7000', 1)).toEqual({ name: 'bandit.svc', port: 7000 });
    const failing = { resolve4: async () => Promise.reject(new Error('ENOTFOUND')), resolve6: async () => Promise.reject(new Error('ENOTFOUND')) };
    const f = await resolvePeers(['10.0.0.9:7000'], 'nope.svc', '10.0.0.1:7946', failing);
    expect(f.addresses).toEqual(['10.0.0.9:7000']);
    expect(f.dnsError).toMatch(/ENOTFOUND/);
  });
});
