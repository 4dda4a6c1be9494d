/**
 * The aggregator on a real full disk: a small tmpfs that fills and is freed.
 * Needs root to mount; where mounting is refused the test says so and skips.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RewardStreamClient } from '../../src/aggregator/client.js';
import { grpcRewardConnector } from '../../src/aggregator/connector.js';
import { AggregatorServer } from '../../src/aggregator/server.js';
import { DecisionIdCodec } from '../../src/reward/decision-id.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createRng } from '../../src/util/rng.js';
import { makeConfig } from '../support/aggregator-fixtures.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { poll, sleep } from '../support/wait.js';

const fs = mountTmpfs('eb-diskfull-', 4 * 1024 * 1024);
const mnt = fs.dir;

describe.skipIf(fs.refused !== null)(`the aggregator on a tmpfs that fills and is freed${fs.refused ? ` (skipped: mount refused: ${fs.refused})` : ''}`, () => {
  afterAll(() => fs.unmount());

  it('goes not-ready on ENOSPC, comes back by itself when space returns, and logs every acked reward exactly once', async () => {
    const logFile = join(mnt, 'rewards.jsonl');
    const config = makeConfig({ replica: 'aggregator', aggregator: { address: '127.0.0.1:0', log_file: logFile } });
    const s = new AggregatorServer({ config, logger: silentLogger(), admin: false });
    const { aggregator } = await s.start();
    const conn = grpcRewardConnector(aggregator);
    const c = new RewardStreamClient({ replica: 'r1', batch: 50, flushMs: 10, buffer: 100_000, connect: conn.connect, clock: systemClock, rng: createRng(1), logger: silentLogger(), metrics: null });
    c.start();
    const codec = new DecisionIdCodec(Buffer.alloc(32, 1), 'r1', 1);
    const ids: string[] = [];
    const offer = (n: number) => {
      for (let i = 0; i < n; i++) {
        const id = codec.issue('chat', 'model-a', Date.now());
        ids.push(id);
        c.offer({ decisionId: id, route: 'chat', arm: 'model-a', reward: 1, source: 'response', time: Date.now() });
      }
    };
    try {
      offer(200);
      expect(await poll(() => c.stats().acked === 200, 10_000)).toBe(true);
      // The disk fills; rewards keep coming.
      fs.fill();
      offer(3000);
      expect(await poll(() => !s.readiness().ready, 10_000)).toBe(true);
      expect(s.readiness().checks.log).toMatch(/ENOSPC|no space/i);
      const ackedWhileFull = c.stats().acked;
      offer(1000);
      await sleep(500);
      expect(s.readiness().ready).toBe(false);
      // Space returns: no restart.
      fs.free();
      expect(await poll(() => s.readiness().ready, 15_000)).toBe(true);
      expect(await poll(() => c.stats().acked >= ids.length, 20_000)).toBe(true);
      console.log(`[disk-full] ${ids.length} rewards; acked before the disk filled or while filling: ${ackedWhileFull}; all acked after space returned; log failures ${s.log.failures}, recoveries ${s.log.recoveries}`);
      expect(s.log.failures).toBeGreaterThanOrEqual(1);
      expect(s.log.recoveries).toBeGreaterThanOrEqual(1);
    } finally {
      await c.stop(5_000);
      conn.close();
      await s.stop();
    }
    const logged = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { decision_id: string }).decision_id);
    expect(logged).toHaveLength(ids.length);
    expect(new Set(logged).size).toBe(ids.length);
    expect(new Set(logged)).toEqual(new Set(ids));
  });
});
