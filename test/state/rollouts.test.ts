/**
 * Kubernetes gives every pod of a rollout a new name. 200 simulated rollouts
 * of a 10-replica fleet (simulated time, one rollout every 5 minutes, gossip
 * every 30 s): the fleet view and the snapshot a replica or the aggregator
 * holds stay flat, because dead replicas' slots expire and their tombstones
 * expire after them.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SLOT_EXPIRY_MS } from '../../src/config/defaults.js';
import { FleetView } from '../../src/gossip/state.js';
import { ReplicaState } from '../../src/state/replica-state.js';
import { ManualClock } from '../../src/util/clock.js';

const REPLICAS = 10;
const ROLLOUTS = Number(process.env.RO ?? 200);
const ROLLOUT_EVERY_MS = 5 * 60_000;
const GOSSIP_EVERY_MS = 150_000;
const shapes = [{ name: 'chat', arms: ['a', 'b', 'c'], drift: { mode: 'half_life' as const, half_life_ms: 600_000 } }];

describe('200 rollouts of 10 replicas', () => {
  it('snapshot size stays flat (dead slots expire, then their tombstones)', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const agg = new FleetView('aggregator', clock, DEFAULT_SLOT_EXPIRY_MS);
    let gen = 0;
    const spawn = () => Array.from({ length: REPLICAS }, (_, i) => new ReplicaState(`router-${gen}-${i}`, shapes, clock));
    let live = spawn();
    const gossip = () => {
      for (const a of live) agg.merge(a.snapshot());
      for (const a of live) a.merge(agg.snapshot());
    };
    const sizes: number[] = [];
    const slots: number[] = [];
    for (let k = 0; k < ROLLOUTS; k++) {
      for (let t = 0; t < ROLLOUT_EVERY_MS; t += GOSSIP_EVERY_MS) {
        for (const r of live) for (let i = 0; i < 5; i++) r.record(0, i % 3, i % 2);
        gossip();
        clock.advance(GOSSIP_EVERY_MS);
      }
      // The rollout: new pods (new ids) sync from the fleet, the old ones die without a word.
      gen++;
      const next = spawn();
      for (const r of next) {
        r.merge(agg.snapshot());
        r.closeAdoption();
      }
      live = next;
      gossip();
      sizes.push(JSON.stringify(live[0]!.snapshot()).length + JSON.stringify(agg.snapshot()).length);
      slots.push(Object.keys(agg.snapshot().slots).length);
    }
    // Within one expiry (30 min) there are 6 generations of 10 slots; tombstones cover 2 expiries more.
    const perExpiry = Math.ceil(DEFAULT_SLOT_EXPIRY_MS / ROLLOUT_EVERY_MS) + 1;
    expect(Math.max(...slots)).toBeLessThanOrEqual(perExpiry * REPLICAS);
    const early = Math.max(...sizes.slice(20, 40));
    const late = Math.max(...sizes.slice(ROLLOUTS - 20));
    expect(late).toBeLessThanOrEqual(early * 1.05);
    expect(Object.keys(agg.snapshot().tombstones ?? {}).length).toBeLessThanOrEqual(2 * perExpiry * REPLICAS);
    console.log(`[rollouts] after ${ROLLOUTS} rollouts: ${slots.at(-1)} slots in the fleet view, snapshot ${sizes.at(-1)} bytes (rollouts 20-40: max ${early} bytes)`);
  });
});
