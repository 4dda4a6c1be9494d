import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { formatIssues } from '../../src/config/issues.js';
import { zeroLinearStats } from '../../src/contextual/model.js';
import { writeFleetFile } from '../../src/aggregator/fleet-file.js';
import { writeSlotFile } from '../../src/state/persistence.js';
import { ReplicaState, routeShapes } from '../../src/state/replica-state.js';
import { loadWarmStart, priorFromDecisionLog, warmTargetOf } from '../../src/state/warm-start.js';
import { ManualClock } from '../../src/util/clock.js';
import { headerList, testConfig, testEngine } from '../support/engine.js';
import { SEGMENT_ARMS, SEGMENT_P, SEGMENTS, segmentLog } from '../support/segments.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'eb-warm-'));

const yaml = (policy: string, warm: string, extra = '') => `
replica_id: r1
routes:
  - name: chat
    arms:
      - { name: a, cluster: a }
      - { name: b, cluster: b }
    policy: ${policy}
    sticky: null
    guardrails: null
    warm_start: ${warm}
${extra}`;

/** Decision + reward lines: `count` decisions of `arm` on `route`, each rewarded `reward`, at time `time`. */
function lines(route: string, arm: string, reward: number, count: number, time = T0, from = 0): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${route}-${arm}-${reward}-${time}-${from + i}`;
    out.push(JSON.stringify({ type: 'decision', id, time, route, arm, propensity: 0.5, reason: i % 2 ? 'sticky' : 'policy', replica: 'old' }));
    out.push(JSON.stringify({ type: 'reward', id, time, route, arm, reward, source: 'response' }));
  }
  return out;
}
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const stats = () => ({ n: 0, sum: 0, sumSq: 0 });

/** A route's prior loaded into a fresh replica state on a manual clock. */
async function warmState(policy: string, file: string, kind: string, samples: number, now = T0) {
  const cfg = testConfig(yaml(policy, `{ from: ${file}, kind: ${kind}, effective_samples: ${samples} }`));
  const clock = new ManualClock(now);
  const state = new ReplicaState('r1', routeShapes(cfg), clock);
  const res = await loadWarmStart(cfg.routes[0]!, cfg.routes[0]!.warm_start!);
  if (!res.ok) throw res.error;
  state.setPrior('chat', res.value);
  return { cfg, clock, state, prior: res.value };
}

describe('warm start from a decision log (known answers)', () => {
  it('sums every rewarded decision of the route, whatever its reason, and scales it down to effective_samples', async () => {
    // a: 30 × 1 and 10 × 0; b: 20 × 0.5 → 60 samples. Noise: another route, a decision without reward, a removed arm, a second reward line.
    const noise = [
      ...lines('embed', 'a', 1, 5),
      JSON.stringify({ type: 'decision', id: 'lost', time: T0, route: 'chat', arm: 'a', propensity: 0.5, reason: 'policy' }),
      ...lines('chat', 'gone', 1, 3),
      JSON.stringify({ type: 'reward', id: 'chat-b-0.5-1700000000000-0', time: T0, route: 'chat', arm: 'b', reward: 1, source: 'feedback' }),
    ];
    const file = write('log.jsonl', [...lines('chat', 'a', 1, 30), ...lines('chat', 'a', 0, 10), ...lines('chat', 'b', 0.5, 20), ...noise].join('\n') + '\n');
    const { state, prior } = await warmState('{ type: thompson }', file, 'decision_log', 30);
    expect(prior.sourceSamples).toBe(60);
    expect(prior.scale).toBe(0.5);
    expect(state.fleet(0, 0, stats())).toEqual({ n: 20, sum: 15, sumSq: 15 });
    expect(state.fleet(0, 1, stats())).toEqual({ n: 10, sum: 5, sumSq: 2.5 });
    // Never scaled up.
    const big = await warmState('{ type: thompson }', file, 'decision_log', 1000);
    expect(big.state.fleet(0, 0, stats())).toEqual({ n: 40, sum: 30, sumSq: 30 });
  });

  it('with a half-life each observation is weighted by its age at the newest one, and the prior then fades like any evidence', async () => {
    const file = write('hl.jsonl', [...lines('chat', 'a', 1, 10, T0 - HOUR), ...lines('chat', 'a', 1, 10, T0, 100)].join('\n'));
    const { state, clock, prior } = await warmState('{ type: thompson, drift: { mode: half_life, half_life: 1h } }', file, 'decision_log', 1000);
    expect(prior.at).toBe(T0);
    expect(state.fleet(0, 0, stats()).n).toBeCloseTo(10 * 0.5 + 10, 9);
    clock.advance(HOUR);
    expect(state.fleet(0, 0, stats()).n).toBeCloseTo(15 / 2, 9);
    // Fresh evidence recorded now is at full weight beside it.
    state.record(0, 0, 0);
    expect(state.fleet(0, 0, stats())).toMatchObject({ n: 8.5 });
  });

  it('is a prior of the fleet view, not of a slot: two replicas loading it and gossiping count it once; a reset drops it', async () => {
    const file = write('fleet.jsonl', lines('chat', 'a', 1, 40).join('\n'));
    const one = await warmState('{ type: thompson }', file, 'decision_log', 20);
    const clock = one.clock;
    const two = new ReplicaState('r2', routeShapes(one.cfg), clock);
    two.setPrior('chat', one.prior);
    one.state.record(0, 0, 1);
    two.record(0, 0, 0);
    one.state.merge(two.snapshot());
    two.merge(one.state.snapshot());
    for (const s of [one.state, two]) expect(s.fleet(0, 0, stats())).toEqual({ n: 22, sum: 21, sumSq: 21 });
    expect(one.state.ownSlot().routes.chat?.a?.n).toBe(1);
    clock.advance(1);
    one.state.write({ kind: 'reset', route: 'chat' }, 'ops');
    expect(one.state.fleet(0, 0, stats()).n).toBe(0);
  });

  it('a contextual route starts from the log’s per-segment evidence: it routes every segment to its own best arm before its first reward', async () => {
    const log = segmentLog({ name: 'old', policy: { type: 'lints', min_share: 0.05 }, features: [{ name: 'tenant', header: 'x-tenant', type: 'categorical', buckets: 16 }] }, 1500, 7);
    const file = write('segments.jsonl', log);
    const cfg = testConfig(contextualYaml(`{ from: ${file}, kind: decision_log, effective_samples: 300 }`));
    const { engine, state, clock } = testEngine(cfg, 3);
    const res = await loadWarmStart(cfg.routes[0]!, cfg.routes[0]!.warm_start!);
    if (!res.ok) throw res.error;
    // The known answer: Σ over arms of the prior's n is the stated effective sample size, and b's intercept is Σ reward × scale.
    let n = 0;
    let rewardSum = 0;
    SEGMENT_ARMS.forEach((a) => {
      n += res.value.linear!.arms[a]!.n;
      rewardSum += res.value.linear!.arms[a]!.b[0]!;
    });
    expect(n).toBeCloseTo(300, 9);
    expect(rewardSum).toBeCloseTo(SEGMENT_ARMS.reduce((s, a) => s + res.value.arms[a]!.sum, 0), 9);
    state.setPrior('chat', res.value);
    expect(state.linearFleet(0, 0, clock.now(), zeroLinearStats(engine.route('chat')!.contextual!.features.dim)).n).toBeCloseTo(res.value.linear!.arms['model-a']!.n, 9);
    const route = engine.route('chat')!;
    for (const seg of SEGMENTS) {
      const best = SEGMENT_P[seg]!.indexOf(Math.max(...SEGMENT_P[seg]!));
      let hits = 0;
      for (let i = 0; i < 200; i++) if (engine.decide(route, headerList({ ':path': '/', 'x-tenant': seg })).arm === best) hits++;
      expect(hits / 200, seg).toBeGreaterThan(0.85);
    }
    // A cold route has no such head start: every arm's model is the prior λI alone.
    const cold = testEngine(testConfig(contextualYaml('null')), 3);
    const coldRoute = cold.engine.route('chat')!;
    const picks = new Set<number>();
    for (let i = 0; i < 60; i++) picks.add(cold.engine.decide(coldRoute, headerList({ ':path': '/', 'x-tenant': 'gold' })).arm);
    expect(picks.size).toBeGreaterThan(1);
  });
});

const contextualYaml = (warm: string) => `
replica_id: r1
routes:
  - name: chat
    arms:
${SEGMENT_ARMS.map((a) => `      - { name: ${a}, cluster: ${a.replace('-', '_')} }`).join('\n')}
    policy: { type: linucb, min_share: 0.01 }
    sticky: null
    guardrails: null
    features:
      - { name: tenant, header: x-tenant, type: categorical, buckets: 16 }
    warm_start: ${warm}
`;

describe('warm start from a snapshot', () => {
  it('takes a slot file’s statistics (scaled), and the sum over a fleet file’s slots', async () => {
    const clock = new ManualClock(T0);
    const cfg = testConfig(yaml('{ type: thompson }', 'null'));
    const old1 = new ReplicaState('old-1', routeShapes(cfg), clock);
    const old2 = new ReplicaState('old-2', routeShapes(cfg), clock);
    for (let i = 0; i < 30; i++) old1.record(0, 0, 1);
    for (let i = 0; i < 10; i++) old2.record(0, 1, 0);
    const slotFile = join(dir, 'slot.json');
    await writeSlotFile(slotFile, old1.ownSlot());
    const fromSlot = await warmState('{ type: thompson }', slotFile, 'snapshot', 15);
    expect(fromSlot.state.fleet(0, 0, stats())).toEqual({ n: 15, sum: 15, sumSq: 15 });
    const fleetFile = join(dir, 'fleet.json');
    old1.merge(old2.snapshot());
    await writeFleetFile(fleetFile, old1.snapshot());
    const fromFleet = await warmState('{ type: thompson }', fleetFile, 'snapshot', 20);
    expect(fromFleet.state.fleet(0, 0, stats())).toEqual({ n: 15, sum: 15, sumSq: 15 });
    expect(fromFleet.state.fleet(0, 1, stats())).toEqual({ n: 5, sum: 0, sumSq: 0 });
  });
});

describe('warm start errors name the problem', () => {
  it('a missing file, an empty log and a bad line are coded errors naming the file', async () => {
    const cfg = testConfig(yaml('{ type: thompson }', `{ from: ${join(dir, 'nope.jsonl')}, kind: decision_log }`));
    const r = await loadWarmStart(cfg.routes[0]!, cfg.routes[0]!.warm_start!);
    expect(r).toMatchObject({ ok: false, error: { code: 'EB_CONFIG_READ', message: `cannot read ${join(dir, 'nope.jsonl')}: file not found` } });
    expect(priorFromDecisionLog(lines('other', 'a', 1, 2).join('\n'), 'chat', warmTargetOf(cfg.routes[0]!), 10)).toEqual({
      ok: false,
      error: 'no decision of route "chat" with a reward for one of its arms (a, b)',
    });
    expect(priorFromDecisionLog('{"type":"decision"\n', 'chat', warmTargetOf(cfg.routes[0]!), 10)).toEqual({ ok: false, error: 'line 1: not JSON' });
  });

  it('config: warm_start needs a learning policy with drift none or half_life; effective_samples must be positive', () => {
    const issues = (policy: string, warm: string) => {
      const r = parseConfig(yaml(policy, warm), { env: {}, hostname: 'h' });
      return r.ok ? [] : formatIssues(r.error);
    };
    expect(issues('{ type: sliding_thompson, size: 100 }', '{ from: /x, kind: decision_log }')).toContain(
      'routes[0].warm_start: needs drift none or half_life: a prior shared by the fleet has no observations of its own to discount or window',
    );
    expect(issues('{ type: static, weights: { a: 1, b: 1 } }', '{ from: /x, kind: snapshot }')).toContain('routes[0].warm_start: policy static does not learn; a warm start would change nothing');
    expect(issues('{ type: thompson }', '{ from: /x, kind: decision_log, effective_samples: 0 }').join()).toMatch(/routes\[0\]\.warm_start\.effective_samples/);
    expect(issues('{ type: thompson }', '{ from: /x, kind: logs }').join()).toMatch(/routes\[0\]\.warm_start\.kind/);
    expect(issues('{ type: thompson, drift: { mode: half_life, half_life: 1h } }', '{ from: /x, kind: decision_log }')).toEqual([]);
  });
});
