/**
 * The aggregator keeps the fleet's operator records: a route paused on a
 * replica that is since gone survives the aggregator's own restart (its fleet
 * file) and the expiry of every slot, and a brand-new replica bootstrapped
 * from the aggregator alone comes up paused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFleetFile, writeFleetFile } from '../../src/aggregator/fleet-file.js';
import { FleetView } from '../../src/gossip/state.js';
import { ReplicaState } from '../../src/state/replica-state.js';
import { ManualClock } from '../../src/util/clock.js';

const EXPIRY_MS = 60_000;
const shapes = [{ name: 'chat', arms: ['a', 'b'], drift: { mode: 'none' as const } }];

describe('operator records kept by the aggregator', () => {
  it('a pause outlives its replica, every slot and the aggregator’s restart; a new replica bootstraps paused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-fleet-records-'));
    try {
      const clock = new ManualClock(1_700_000_000_000);
      const r1 = new ReplicaState('router-1', shapes, clock, { slotExpiryMs: EXPIRY_MS });
      r1.record(0, 0, 1);
      r1.write({ kind: 'mode', route: 'chat', mode: 'paused' }, 'oncall@example');
      const agg = new FleetView('aggregator', clock, EXPIRY_MS);
      agg.merge(r1.snapshot());

      // router-1 is gone; its slot expires; the aggregator restarts from its fleet file.
      clock.advance(4 * EXPIRY_MS);
      const file = join(dir, 'rewards.jsonl.snapshot.json');
      await writeFleetFile(file, agg.snapshot());
      const read = await readFleetFile(file);
      expect(read.ok).toBe(true);
      const restarted = new FleetView('aggregator', clock, EXPIRY_MS);
      if (read.ok && read.value) restarted.merge(read.value);
      expect(Object.keys(restarted.snapshot().slots)).toEqual([]);

      const fresh = new ReplicaState('router-2', shapes, clock, { slotExpiryMs: EXPIRY_MS });
      expect(fresh.modeOf('chat')).toBe('active');
      fresh.merge(restarted.snapshot());
      expect(fresh.modeOf('chat')).toBe('paused');
      expect(fresh.allRecords()).toContainEqual(expect.objectContaining({ kind: 'mode', route: 'chat', mode: 'paused', by: { who: 'oncall@example', replica: 'router-1' } }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
