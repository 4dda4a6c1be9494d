import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/evaluate.js';
import { captureIo } from '../../../src/cli/io.js';
import { buildCandidate, type PolicySpec } from '../../../src/tools/offline/candidate.js';
import { readDecisionLog } from '../../../src/tools/offline/log-events.js';
import { evaluateOffPolicy, type Estimate } from '../../../src/tools/offline/ope.js';
import { parseReplay, runReplay } from '../../../src/tools/offline/replay.js';
import { SEGMENT_P, SEGMENTS, segmentLog, segmentRows, toJsonl } from '../../support/segments.js';

const UNIFORM: PolicySpec = { name: 'uniform', policy: { type: 'static', weights: { 'model-a': 1, 'model-b': 1, 'model-c': 1 } } };
const FIXED_A: PolicySpec = { name: 'fixed-a', policy: { type: 'fixed', arm: 'model-a' } };
const MOSTLY_C: PolicySpec = { name: 'mostly-c', policy: { type: 'static', weights: { 'model-a': 1, 'model-c': 3 } } };
/** True values in the segment world (segments equally likely). */
const armMean = (i: number) => SEGMENTS.reduce((s, g) => s + SEGMENT_P[g]![i]!, 0) / 3;
const TRUE_FIXED_A = armMean(0);
const TRUE_MOSTLY_C = 0.25 * armMean(0) + 0.75 * armMean(2);
const TRUE_UNIFORM = (armMean(0) + armMean(1) + armMean(2)) / 3;

function evaluate(logText: string, spec: PolicySpec) {
  const log = readDecisionLog(logText);
  if (!log.ok) throw new Error(log.error);
  const c = buildCandidate(spec, log.value.arms, log.value.contextKeys);
  if (!c.ok) throw new Error(JSON.stringify(c.error));
  return { log: log.value, r: evaluateOffPolicy(log.value, c.value) };
}
const covers = (e: Estimate, truth: number) => e.low <= truth && truth <= e.high;

describe('off-policy evaluation, known answers', () => {
  it('IPS, SNIPS and DR intervals cover the true value of fixed and static candidates on uniformly logged traffic (≥ 17 of 20 logs)', () => {
    const logs = Array.from({ length: 20 }, (_, s) => segmentLog(UNIFORM, 1500, s + 1));
    for (const [spec, truth] of [[FIXED_A, TRUE_FIXED_A], [MOSTLY_C, TRUE_MOSTLY_C]] as const) {
      const cover = { ips: 0, snips: 0, dr: 0, logged: 0 };
      let absErr = 0;
      for (const text of logs) {
        const { r } = evaluate(text, spec);
        if (covers(r.ips, truth)) cover.ips++;
        if (covers(r.snips, truth)) cover.snips++;
        if (covers(r.dr, truth)) cover.dr++;
        if (covers(r.logged, TRUE_UNIFORM)) cover.logged++;
        absErr += Math.abs(r.dr.value - truth);
      }
      for (const [k, n] of Object.entries(cover)) expect(n, `${spec.name} ${k}`).toBeGreaterThanOrEqual(17);
      expect(absErr / logs.length, spec.name).toBeLessThan(0.03);
    }
  });

  it('the effective sample size of a fixed candidate under uniform logging is the number of events that chose its arm', () => {
    const text = segmentLog(UNIFORM, 900, 42);
    const { log, r } = evaluate(text, FIXED_A);
    const matches = log.events.filter((e) => e.arm === 'model-a').length;
    expect(r.ess).toBeCloseTo(matches, 6);
    expect(r.zeroWeight).toBe(log.events.length - matches);
    expect(r.maxWeight).toBeCloseTo(3, 9);
  });

  it('DR is as accurate as IPS and has a narrower interval (its reward model explains the segments)', () => {
    const { r } = evaluate(segmentLog(UNIFORM, 3000, 5), MOSTLY_C);
    expect(r.dr.stderr).toBeLessThan(r.ips.stderr);
    expect(Math.abs(r.dr.value - TRUE_MOSTLY_C)).toBeLessThan(0.03);
  });
});

describe('off-policy evaluation ranks candidates the way running them live does', () => {
  it('on a log produced by context-free Thompson: linear Thompson ranks above Thompson, as it does live', () => {
    const logging: PolicySpec = { name: 'logging', policy: { type: 'thompson', min_share: 0.1 } };
    const candidates: PolicySpec[] = [
      { name: 'lints', policy: { type: 'lints' }, features: [{ name: 'tenant', header: 'x-tenant', type: 'categorical', buckets: 16 }] },
      { name: 'thompson', policy: { type: 'thompson' } },
    ];
    const text = segmentLog(logging, 3000, 9);
    const offline = candidates.map((c) => evaluate(text, c).r);
    const world = parseReplay(toJsonl(segmentRows(3000, 99)));
    if (!world.ok) throw new Error(world.error);
    const live = runReplay(world.value, candidates, 2);
    if (!live.ok) throw new Error(live.error);
    const [liveCtx, liveFree] = live.value.policies.map((p) => p.mean);
    expect(liveCtx!).toBeGreaterThan(liveFree! + 0.1);
    for (const est of ['ips', 'snips', 'dr'] as const) {
      expect(offline[0]![est].value, est).toBeGreaterThan(offline[1]![est].value);
      // The gap is resolved, not noise: the intervals do not overlap.
      expect(offline[0]![est].low, est).toBeGreaterThan(offline[1]![est].high);
    }
  });
});

describe('envoy-bandit evaluate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eb-eval-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints each candidate’s IPS, SNIPS and DR with intervals and ESS beside the logged mean; --json for scripts', async () => {
    const log = join(dir, 'decisions.jsonl');
    await writeFile(log, segmentLog(UNIFORM, 600, 3) + JSON.stringify({ type: 'decision', id: 's1', time: 1, route: 'chat', arm: 'model-a', propensity: 1, reason: 'sticky', replica: 'r1' }) + '\n');
    const pf = join(dir, 'fixed-a.yaml');
    await writeFile(pf, 'policy: { type: fixed, arm: model-a }\n');
    const io = captureIo();
    expect(await run(['--log', log, '--policy', pf], io)).toBe(0);
    const text = io.out.join('\n');
    expect(text).toMatch(/route chat: 600 logged policy decisions/);
    expect(text).toMatch(/1 sticky/);
    expect(text).toMatch(/logged policy, actual mean reward: 0\.\d{4} \[/);
    expect(text).toMatch(/^fixed-a\s+0\.\d{4} \[0\.\d{4}, 0\.\d{4}\]/m);
    const json = captureIo();
    expect(await run(['--log', log, '--policy', pf, '--json'], json)).toBe(0);
    const o = JSON.parse(json.out[0]!) as { candidates: Array<{ name: string; ess: number; dr: Estimate }>; events: number };
    expect(o.events).toBe(600);
    expect(o.candidates[0]!.name).toBe('fixed-a');
    expect(o.candidates[0]!.ess).toBeGreaterThan(100);
  });

  it('rejects bad input with exit 1 and a message naming it', async () => {
    const log = join(dir, 'bad.jsonl');
    await writeFile(log, '{"type":"decision","id":"a","route":"chat","arm":"x","propensity":2}\n');
    const pf = join(dir, 'p.yaml');
    await writeFile(pf, 'policy: { type: fixed, arm: x }\n');
    const io = captureIo();
    expect(await run(['--log', log, '--policy', pf], io)).toBe(1);
    expect(io.err.join()).toMatch(/line 1: propensity: expected null or a number in \[0, 1\]/);
    const io2 = captureIo();
    expect(await run(['--policy', pf], io2)).toBe(1);
    expect(io2.err[0]).toMatch(/--log FILE is required/);
    const good = join(dir, 'good.jsonl');
    await writeFile(good, segmentLog(UNIFORM, 20, 1));
    const unknownArm = join(dir, 'unknown-arm.yaml');
    await writeFile(unknownArm, 'policy: { type: fixed, arm: model-z }\n');
    const io3 = captureIo();
    expect(await run(['--log', good, '--policy', unknownArm], io3)).toBe(1);
    expect(io3.err.join()).toMatch(/policy file .*unknown-arm\.yaml: .*model-z/);
  });
});

