import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionLog, DECISION_LOG_METRIC } from '../../src/log/decision-log.js';
import { FeedbackManager } from '../../src/reward/feedback.js';
import { makeConfig, makeEngine } from '../support/admin-fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eb-declog-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const readLines = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function setup(name: string, opts: { maxBytes?: number; maxBuffered?: number; feedback?: boolean } = {}) {
  const rig = makeEngine(makeConfig([{ name: 'chat', feedback: opts.feedback ? '{ wait: 10s, default: 0 }' : null }]));
  const file = join(dir, `${name}.jsonl`);
  const registry = new Registry();
  const log = new DecisionLog({ file, maxBytes: opts.maxBytes ?? 1 << 20, replica: 'r1', logger: null, registry, maxBuffered: opts.maxBuffered, flushMs: 10_000 });
  rig.engine.observe(log);
  return { ...rig, file, log, registry };
}

describe('DecisionLog', () => {
  it('writes a decision line and a reward line per request, flushed on close', async () => {
    const s = setup('basic');
    await s.log.open();
    const route = s.engine.route('chat')!;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const d = s.engine.decide(route, null);
      ids.push(d.id);
      s.engine.onResponse(d, i % 5 === 0 ? 500 : 200, undefined, 3);
    }
    // Nothing is written on the request path.
    expect((await stat(s.file)).size).toBe(0);
    expect(s.log.buffered).toBe(40);
    await s.log.close();
    const lines = await readLines(s.file);
    expect(lines).toHaveLength(40);
    const decisions = lines.filter((l) => l.type === 'decision');
    const rewards = lines.filter((l) => l.type === 'reward');
    expect(decisions.map((l) => l.id)).toEqual(ids);
    expect(rewards.map((l) => l.id)).toEqual(ids);
    for (const l of decisions) {
      expect(Object.keys(l).sort()).toEqual(['arm', 'id', 'propensity', 'reason', 'replica', 'route', 'time', 'type']);
      expect(l).toMatchObject({ route: 'chat', reason: 'policy', replica: 'r1', time: s.clock.now() });
      expect(typeof l.propensity).toBe('number');
      expect(l.propensity as number).toBeGreaterThan(0);
      expect(l.propensity as number).toBeLessThanOrEqual(1);
    }
    for (const [i, l] of rewards.entries()) {
      expect(Object.keys(l).sort()).toEqual(['arm', 'id', 'reward', 'route', 'source', 'time', 'type']);
      expect(l.source).toBe('response');
      expect(l.reward).toBe(i % 5 === 0 ? 0 : 1);
      expect(l.arm).toBe(decisions[i]!.arm);
    }
    const counter = s.registry.getSingleMetric(DECISION_LOG_METRIC)!;
    expect((await counter.get()).values.find((v) => v.labels.outcome === 'written')?.value).toBe(40);
  });

  it('logs delayed feedback and defaults as reward lines with their source', async () => {
    const s = setup('feedback', { feedback: true });
    const fm = new FeedbackManager({ engine: s.engine, clock: s.clock, metrics: s.metrics, logger: null });
    s.engine.observe(fm);
    await s.log.open();
    const route = s.engine.route('chat')!;
    const d1 = s.engine.decide(route, null);
    s.engine.onResponse(d1, 200, undefined, 1);
    const d2 = s.engine.decide(route, null);
    s.engine.onResponse(d2, 200, undefined, 1);
    expect((await fm.submit({ decision_id: d1.id, reward: 0.7 })).outcome).toBe('accepted');
    s.clock.advance(10_001);
    fm.sweep();
    await s.log.close();
    const rewards = (await readLines(s.file)).filter((l) => l.type === 'reward');
    expect(rewards).toEqual([
      expect.objectContaining({ id: d1.id, reward: 0.7, source: 'feedback' }),
      expect.objectContaining({ id: d2.id, reward: 0, source: 'default' }),
    ]);
  });

  it('rotates to <file>.1 before exceeding max bytes, keeping one old file', async () => {
    const maxBytes = 2_000;
    const s = setup('rotate', { maxBytes });
    await writeFile(`${s.file}.1`, 'stale\n');
    await s.log.open();
    const route = s.engine.route('chat')!;
    const all: string[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 10; i++) all.push(s.engine.decide(route, null).id);
      await s.log.flush();
    }
    await s.log.close();
    expect(s.log.rotations).toBeGreaterThanOrEqual(2);
    const cur = await stat(s.file);
    const old = await stat(`${s.file}.1`);
    expect(cur.size).toBeLessThanOrEqual(maxBytes);
    expect(old.size).toBeLessThanOrEqual(maxBytes);
    const kept = [...(await readLines(`${s.file}.1`)), ...(await readLines(s.file))].map((l) => l.id);
    // The newest lines survive, in order, with nothing lost between the two files.
    expect(kept.length).toBeGreaterThan(0);
    expect(all.slice(-kept.length)).toEqual(kept);
  });

  it('appends to an existing file and counts its size toward the bound', async () => {
    const s = setup('append', { maxBytes: 400 });
    await writeFile(s.file, `${'x'.repeat(350)}\n`);
    await s.log.open();
    s.engine.decide(s.engine.route('chat')!, null);
    await s.log.close();
    expect(s.log.rotations).toBe(1);
    expect((await readFile(`${s.file}.1`, 'utf8')).startsWith('xxx')).toBe(true);
    expect(await readLines(s.file)).toHaveLength(1);
  });

  it('drops and counts lines past the buffer bound instead of growing', async () => {
    const s = setup('bounded', { maxBuffered: 5 });
    await s.log.open();
    const route = s.engine.route('chat')!;
    for (let i = 0; i < 12; i++) s.engine.decide(route, null);
    expect(s.log.buffered).toBe(5);
    expect(s.log.dropped).toBe(7);
    await s.log.close();
    expect(await readLines(s.file)).toHaveLength(5);
    const counter = s.registry.getSingleMetric(DECISION_LOG_METRIC)!;
    expect((await counter.get()).values.find((v) => v.labels.outcome === 'dropped')?.value).toBe(7);
  });

  it('ignores events after close and fails to open an unwritable path', async () => {
    const s = setup('closed');
    await s.log.open();
    await s.log.close();
    s.engine.decide(s.engine.route('chat')!, null);
    expect(s.log.buffered).toBe(0);
    const bad = new DecisionLog({ file: join(dir, 'no-such-dir', 'x.jsonl'), maxBytes: 1000, replica: 'r1', logger: null });
    await expect(bad.open()).rejects.toMatchObject({ code: 'EB_DECISION_LOG_WRITE', message: expect.stringMatching(/directory .*no-such-dir does not exist/) });
  });
});
