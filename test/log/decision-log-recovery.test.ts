/**
 * The decision log recovers by itself: rotation keeps N files, and on a real
 * full disk (a tmpfs that fills and is freed) lines wait in memory, the write is
 * retried with backoff, and every buffered line is written exactly once when
 * space returns — no restart. Needs root to mount; skips (saying why) elsewhere.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { DecisionLog } from '../../src/log/decision-log.js';
import { PERSISTENCE_HEALTH_METRIC } from '../../src/metrics/metrics.js';
import { makeConfig, makeEngine } from '../support/admin-fixtures.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { poll } from '../support/wait.js';

const ids = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);

function rig(file: string, opts: { maxBytes?: number; keep?: number; registry?: Registry } = {}) {
  const r = makeEngine(makeConfig([{ name: 'chat' }]));
  const log = new DecisionLog({ file, maxBytes: opts.maxBytes ?? 1 << 30, keep: opts.keep, replica: 'r1', logger: null, registry: opts.registry ?? null, flushMs: 20, retry: { minMs: 20, maxMs: 200 } });
  r.engine.observe(log);
  const route = r.engine.route('chat')!;
  const decide = (n: number) => Array.from({ length: n }, () => r.engine.decide(route, null).id);
  return { log, decide };
}

describe('DecisionLog rotation', () => {
  it('keeps `keep` rotated files, each within the size bound, the newest lines in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eb-declog-rot-'));
    try {
      const file = join(dir, 'd.jsonl');
      const { log, decide } = rig(file, { maxBytes: 2_000, keep: 3 });
      await log.open();
      const all: string[] = [];
      for (let i = 0; i < 20; i++) {
        all.push(...decide(5));
        await log.flush();
      }
      await log.close();
      expect((await readdir(dir)).sort()).toEqual(['d.jsonl', 'd.jsonl.1', 'd.jsonl.2', 'd.jsonl.3']);
      for (const f of ['d.jsonl', 'd.jsonl.1', 'd.jsonl.2', 'd.jsonl.3']) expect((await stat(join(dir, f))).size).toBeLessThanOrEqual(2_000);
      const kept = [...(await ids(`${file}.3`)), ...(await ids(`${file}.2`)), ...(await ids(`${file}.1`)), ...(await ids(file))];
      expect(all.slice(-kept.length)).toEqual(kept);
      expect(log.rotations).toBeGreaterThan(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const fs = mountTmpfs('eb-declog-full-', 1024 * 1024);

describe.skipIf(fs.refused !== null)(`DecisionLog on a tmpfs that fills and is freed${fs.refused ? ` (skipped: ${fs.refused})` : ''}`, () => {
  afterAll(() => fs.unmount());

  it('keeps lines in memory while writes fail, retries, and writes each exactly once when space returns; the health gauge follows', async () => {
    const registry = new Registry();
    const file = join(fs.dir, 'decisions.jsonl');
    const { log, decide } = rig(file, { registry });
    const gauge = async () => (await registry.getSingleMetric(PERSISTENCE_HEALTH_METRIC)!.get()).values.find((v) => v.labels.target === 'decision_log')?.value;
    await log.open();
    const all = decide(100);
    await log.flush();
    expect(log.written).toBe(100);
    fs.fill();
    all.push(...decide(2_000));
    expect(await poll(() => log.health.failing !== null, 5_000)).toBe(true);
    expect(log.degraded()).toMatch(/ENOSPC|no space/i);
    expect(await gauge()).toBe(0);
    all.push(...decide(500));
    await new Promise((r) => setTimeout(r, 300));
    expect(log.health.failing).not.toBeNull();
    expect(log.dropped).toBe(0);
    fs.free();
    expect(await poll(() => log.health.failing === null && log.buffered === 0, 10_000)).toBe(true);
    expect(log.degraded()).toBeNull();
    expect(await gauge()).toBe(1);
    await log.close();
    const written = await ids(file);
    expect(written).toEqual(all);
    expect(log.health.failures).toBe(1);
    expect(log.health.recoveries).toBe(1);
  });
});
