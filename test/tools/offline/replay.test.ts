import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../../src/cli/io.js';
import { run } from '../../../src/cli/simulate.js';
import { hindsight, parseReplay } from '../../../src/tools/offline/replay.js';
import { EXPECTED_BEST_FIXED, EXPECTED_ORACLE, segmentRows, toJsonl } from '../../support/segments.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eb-replay-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sim(argv: string[]) {
  const io = captureIo();
  const code = await run(argv, io);
  return { code, out: io.out, err: io.err.join('\n') };
}

/** `name  0.8448 (…)` → 0.8448 */
function rewardOf(lines: string[], name: string): number {
  const line = lines.find((l) => l.startsWith(name));
  if (!line) throw new Error(`no row ${name} in\n${lines.join('\n')}`);
  return Number(/\s{2,}(-?[0-9.]+)/.exec(line.slice(name.length - 1))?.[1]);
}

describe('simulate --replay', () => {
  it('three segments with different best arms: contextual policies earn within 10 % of the per-segment oracle, context-free ones do not', async () => {
    const file = join(dir, 'segments.jsonl');
    await writeFile(file, toJsonl(segmentRows(4000, 7)));
    const r = await sim(['--replay', file, '--seeds', '2']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const oracle = rewardOf(r.out, 'best arm per context');
    const fixed = rewardOf(r.out, 'best fixed arm (');
    // The file's hindsight figures are the world's expected values up to sampling noise.
    expect(oracle).toBeCloseTo(EXPECTED_ORACLE, 1);
    expect(fixed).toBeCloseTo(EXPECTED_BEST_FIXED, 1);
    for (const p of ['linucb', 'lints']) {
      expect(rewardOf(r.out, p), p).toBeGreaterThanOrEqual(0.9 * oracle);
      expect(rewardOf(r.out, p), p).toBeGreaterThan(1.2 * fixed);
    }
    for (const p of ['static', 'epsilon_greedy', 'ucb1', 'thompson']) {
      expect(rewardOf(r.out, p), p).toBeLessThan(0.9 * oracle);
      expect(rewardOf(r.out, p), p).toBeLessThan(1.05 * fixed);
    }
  });

  it('runs the policies a --policy file declares, with their features', async () => {
    const rows = join(dir, 'rows.jsonl');
    await writeFile(rows, toJsonl(segmentRows(600, 3)));
    const pf = join(dir, 'ctx.yaml');
    await writeFile(pf, 'name: by-tenant\npolicy: { type: lints, v: 0.3 }\nfeatures:\n  - { name: tenant, header: x-tenant, type: categorical, buckets: 8 }\n');
    const r = await sim(['--replay', rows, '--policy', pf, '--seeds', '1']);
    expect(r.code).toBe(0);
    expect(r.out.filter((l) => /^by-tenant\s/.test(l))).toHaveLength(1);
    expect(r.out.some((l) => /^thompson\s/.test(l))).toBe(false);
  });

  it('computes the hindsight references exactly on a small file', () => {
    const d = parseReplay(
      toJsonl([
        { context: { t: 'x' }, rewards: { a: 1, b: 0 } },
        { context: { t: 'x' }, rewards: { a: 1, b: 0.5 } },
        { context: { t: 'y' }, rewards: { a: 0, b: 1 } },
        { context: { t: 'y' }, rewards: { a: 0.2, b: 0.6 } },
      ]),
    );
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    const h = hindsight(d.value);
    // Fixed: a = 2.2/4, b = 2.1/4. Per context: x → a (2), y → b (1.6).
    expect(h.bestFixed).toEqual({ arm: 'a', mean: 0.55 });
    expect(h.perContextOracle).toBeCloseTo(0.9, 12);
    expect(h.contexts).toBe(2);
  });

  it('rejects bad input with exit 1 and a message naming the line or the flag', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"context":{},"rewards":{"a":1,"b":0}}\n{"context":{},"rewards":{"a":1}}\n');
    const r1 = await sim(['--replay', bad]);
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(/line 2: rewards: arms \["a"\] differ/);
    const r2 = await sim(['--replay', join(dir, 'missing.jsonl')]);
    expect(r2.err).toMatch(/cannot read replay file .*file not found/);
    const r3 = await sim(['--replay', bad, '--scenario', 'bernoulli-2']);
    expect(r3.err).toMatch(/not both/);
    const pf = join(dir, 'bad-policy.yaml');
    await writeFile(pf, 'policy: { type: linucb, alpha: -2 }\nfeatures: [{ name: t, header: x-t, type: categorical }]\n');
    const good = join(dir, 'good.jsonl');
    await writeFile(good, toJsonl(segmentRows(10, 1)));
    const r4 = await sim(['--replay', good, '--policy', pf]);
    expect(r4.code).toBe(1);
    expect(r4.err).toMatch(/policy bad-policy: policy\.alpha/);
  });
});
