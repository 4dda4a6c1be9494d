/**
 * A real Sidecar whose snapshot file sits on a tmpfs that fills and is freed:
 * failed writes are counted and retried with backoff, /readyz reports the
 * outage under `degraded` (the sidecar keeps routing), and the file is current
 * again without a restart. Needs root to mount; skips (saying why) elsewhere.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSlotFile } from '../../src/state/persistence.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { makeConfig } from '../support/aggregator-fixtures.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { poll } from '../support/wait.js';

const fs = mountTmpfs('eb-snap-full-', 256 * 1024);

describe.skipIf(fs.refused !== null)(`state snapshots on a tmpfs that fills and is freed${fs.refused ? ` (skipped: ${fs.refused})` : ''}`, () => {
  afterAll(() => fs.unmount());

  it('counts failed writes, reports degraded (still ready), retries, and writes the current state once space returns', async () => {
    const file = join(fs.dir, 'slot.json');
    const config = makeConfig({ replica: 'r1', snapshotFile: file, stateInterval: '50ms' });
    const sidecar = await Sidecar.create({ config, logger: silentLogger(), seed: 3, env: {} });
    await sidecar.start();
    const counter = async (outcome: string) => (await sidecar.metrics.snapshotWrites.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    const gauge = async () => (await sidecar.metrics.persistenceHealthy.get()).values.find((v) => v.labels.target === 'snapshot')?.value;
    try {
      expect(await poll(async () => (await counter('ok')) > 0, 5_000)).toBe(true);
      fs.fill();
      // Learn something the file does not have yet.
      const route = sidecar.engine.route('chat')!;
      for (let i = 0; i < 50; i++) sidecar.engine.onResponse(sidecar.engine.decide(route, null), 200, undefined, 5);
      expect(await poll(async () => (await counter('failed')) > 0, 5_000)).toBe(true);
      const r = sidecar.readiness();
      expect(r.ready).toBe(true);
      expect(r.degraded?.snapshot).toMatch(/ENOSPC|no space/i);
      expect(await gauge()).toBe(0);
      fs.free();
      expect(await poll(() => sidecar.readiness().degraded === undefined, 10_000)).toBe(true);
      expect(await gauge()).toBe(1);
      const saved = await readSlotFile(file);
      expect(saved.ok && saved.value?.slot.version).toBe(sidecar.state.ownVersion);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty('slot');
    } finally {
      await sidecar.stop(500);
    }
  });
});
