/**
 * Contextual learning is fleet-wide: the linear models' statistics ride in
 * each replica's gossiped slot, so a replica that has never seen a reward
 * routes each segment as well as the replica that learned it.
 */
import { describe, expect, it } from 'vitest';
import { zeroLinearStats } from '../../src/contextual/model.js';
import { createRng } from '../../src/util/rng.js';
import { headerList, testConfig } from '../support/engine.js';
import { engineFleet } from '../support/engine-fleet.js';
import { SEGMENT_ARMS, SEGMENT_P, SEGMENTS } from '../support/segments.js';

const yaml = (replica: string, policy: string) => `
replica_id: ${replica}
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms:
${SEGMENT_ARMS.map((a) => `      - { name: ${a}, cluster: ${a.replace('-', '_')} }`).join('\n')}
    policy: ${policy}
    sticky: null
    guardrails: null
    features:
      - { name: tenant, header: x-tenant, type: categorical, buckets: 16 }
`;
const req = (tenant: string) => headerList({ ':path': '/v1/chat/x', ':authority': 'h', 'x-tenant': tenant });

describe.each([
  ['linucb', '{ type: linucb, min_share: 0.01 }'],
  ['lints with a half-life', '{ type: lints, min_share: 0.01, drift: { mode: half_life, half_life: 1h } }'],
])('%s across two replicas gossiping in process', (_name, policy) => {
  it('replica 2 routes each segment to its own best arm from replica 1’s learning alone', async () => {
    const { replicas, gossip, clock } = engineFleet([testConfig(yaml('r1', policy)), testConfig(yaml('r2', policy))], 3);
    const [r1, r2] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const route1 = r1.engine.route('chat')!;
    const rng = createRng(11);
    for (let i = 0; i < 1500; i++) {
      const seg = SEGMENTS[i % 3]!;
      const d = r1.engine.decide(route1, req(seg));
      r1.engine.onResponse(d, rng.next() < SEGMENT_P[seg]![d.arm]! ? 200 : 500, undefined, 5);
      clock.advance(2);
    }
    const route2 = r2.engine.route('chat')!;
    // Before gossip replica 2 knows nothing: the same model for every segment.
    expect(r2.state.linearFleet(0, 0, clock.now(), zeroLinearStats(route2.contextual!.features.dim)).n).toBe(0);
    await gossip(3);
    const n1 = r1.state.linearFleet(0, 0, clock.now(), zeroLinearStats(route1.contextual!.features.dim)).n;
    expect(n1).toBeGreaterThan(100);
    expect(r2.state.linearFleet(0, 0, clock.now(), zeroLinearStats(route2.contextual!.features.dim)).n).toBeCloseTo(n1, 9);
    for (const seg of SEGMENTS) {
      const best = SEGMENT_P[seg]!.indexOf(Math.max(...SEGMENT_P[seg]!));
      let hits = 0;
      for (let i = 0; i < 300; i++) if (r2.engine.decide(route2, req(seg)).arm === best) hits++;
      expect(hits / 300, seg).toBeGreaterThan(0.85);
    }
    // Replica 2 learned nothing itself: its own slot holds no contextual evidence.
    expect(r2.state.ownSlot().linear?.chat?.arms['model-a']?.n ?? 0).toBe(0);
  });
});
