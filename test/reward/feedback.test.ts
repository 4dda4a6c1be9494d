import { describe, expect, it } from 'vitest';
import { DecisionIdCodec } from '../../src/reward/decision-id.js';
import { FeedbackManager, MAX_PENDING, MAX_SETTLED_IDS } from '../../src/reward/feedback.js';
import { reencodings } from '../support/reencode.js';
import { KEY, makeConfig, makeEngine, metricValue, type Rig } from '../support/admin-fixtures.js';

const WAIT = 30_000;
const SEP = '\u001f';

function rig(opts: { feedback?: string; maxPending?: number; maxSettled?: number } = {}) {
  const config = makeConfig([
    { name: 'fb', feedback: opts.feedback ?? '{ wait: 30s, default: 0.25 }' },
    { name: 'plain' },
  ]);
  const r = makeEngine(config);
  const fm = new FeedbackManager({ engine: r.engine, clock: r.clock, metrics: r.metrics, logger: null, maxPending: opts.maxPending, maxSettled: opts.maxSettled });
  r.engine.observe(fm);
  return { ...r, fm };
}

function samples(r: Rig, route: string, arm: string): { n: number; sum: number } {
  const rt = r.engine.route(route)!;
  const s = r.engine.armSummary(rt).find((x) => x.arm === arm)!;
  return { n: s.stats.n, sum: s.stats.sum };
}

function serve(r: Rig, route: string, status = 200) {
  const rt = r.engine.route(route)!;
  const d = r.engine.decide(rt, null);
  const o = r.engine.onResponse(d, status, undefined, 5);
  return { d, o, arm: rt.armNames[d.arm]! };
}

const outcomes = (r: Rig, outcome: string) => metricValue(r.metrics, 'envoy_bandit_feedback_total', { outcome });
const rewards = (r: Rig, route: string, arm: string, source: string) => metricValue(r.metrics, 'envoy_bandit_rewards_total', { route, arm, source });

describe('FeedbackManager', () => {
  it('by default holds MAX_PENDING decisions, settles the oldest early past it, and remembers every settled one (MAX_SETTLED_IDS covers them)', async () => {
    expect(MAX_SETTLED_IDS).toBeGreaterThan(MAX_PENDING);
    // default: null keeps the 100,000 settlements cheap (nothing is learned from them).
    const r = rig({ feedback: '{ wait: 30s, default: null }' });
    const first = serve(r, 'fb');
    // Fill the default bound through the observer hook; ids from another replica name keep their identities apart.
    const bulk = new DecisionIdCodec(KEY, 'bulk');
    for (let i = 1; i < MAX_PENDING; i++) r.fm.deferReward({ ...first.d, id: bulk.issue('fb', first.arm, first.d.time) }, first.o);
    expect(r.fm.pendingSize).toBe(MAX_PENDING);
    expect(await outcomes(r, 'evicted')).toBe(0);
    const last = serve(r, 'fb');
    expect(r.fm.pendingSize).toBe(MAX_PENDING);
    expect(await outcomes(r, 'evicted')).toBe(1);
    // The oldest was settled with its default: its feedback is now a duplicate.
    expect((await r.fm.submit({ decision_id: first.d.id, reward: 1 })).outcome).toBe('duplicate');
    // Settling every held decision keeps all of them for duplicate detection.
    expect(r.fm.stop()).toBe(MAX_PENDING);
    expect(r.fm.settledSize).toBe(MAX_PENDING + 1);
    expect((await r.fm.submit({ decision_id: last.d.id, reward: 1 })).outcome).toBe('duplicate');
  });

  it('holds a successful response on a feedback route and applies the posted reward once', async () => {
    const r = rig();
    const { d, o, arm } = serve(r, 'fb');
    expect(o.recorded).toBe(false);
    expect(r.fm.pendingSize).toBe(1);
    expect(samples(r, 'fb', arm).n).toBe(0);

    r.clock.advance(1_000);
    expect((await r.fm.submit({ decision_id: d.id, reward: 0.8 }))).toEqual({ decision_id: d.id, outcome: 'accepted', recorded: true });
    expect(samples(r, 'fb', arm)).toEqual({ n: 1, sum: 0.8 });
    expect(r.fm.pendingSize).toBe(0);
    expect(await rewards(r, 'fb', arm, 'feedback')).toBe(1);
    expect(await metricValue(r.metrics, 'envoy_bandit_reward_sum', { route: 'fb', arm, source: 'feedback' })).toBeCloseTo(0.8);

    const again = (await r.fm.submit({ decision_id: d.id, reward: 1 }));
    expect(again.outcome).toBe('duplicate');
    expect(samples(r, 'fb', arm)).toEqual({ n: 1, sum: 0.8 });
    expect(await outcomes(r, 'accepted')).toBe(1);
    expect(await outcomes(r, 'duplicate')).toBe(1);
    // The sweep after the wait must not add a default for it.
    r.clock.advance(WAIT * 2);
    r.fm.sweep();
    expect(samples(r, 'fb', arm).n).toBe(1);
  });

  it('records a failed response as 0 at once; feedback cannot redeem it', async () => {
    const r = rig();
    const { d, o, arm } = serve(r, 'fb', 503);
    expect(o.recorded).toBe(true);
    expect(o.reward).toBe(0);
    expect(r.fm.pendingSize).toBe(0);
    expect(await rewards(r, 'fb', arm, 'response')).toBe(1);
    const ans = (await r.fm.submit({ decision_id: d.id, reward: 1 }));
    expect(ans.outcome).toBe('duplicate');
    expect(ans.reason).toMatch(/response/);
    expect(samples(r, 'fb', arm)).toEqual({ n: 1, sum: 0 });
  });

  it('routes without feedback record the response reward and refuse feedback', async () => {
    const r = rig();
    const { d, o, arm } = serve(r, 'plain');
    expect(o.recorded).toBe(true);
    expect(samples(r, 'plain', arm).n).toBe(1);
    const ans = (await r.fm.submit({ decision_id: d.id, reward: 1 }));
    expect(ans.outcome).toBe('invalid');
    expect(ans.reason).toMatch(/does not take feedback/);
  });

  it('refuses forged, tampered and malformed ids and out-of-range rewards', async () => {
    const r = rig();
    const { d } = serve(r, 'fb');
    const forged = new DecisionIdCodec(Buffer.alloc(32, 9), 'r1').issue('fb', 'a', r.clock.now());
    const [payload, sig] = d.id.split('.') as [string, string];
    const tampered = `${Buffer.from(Buffer.from(payload, 'base64url').toString('utf8').replace(`${SEP}${d.route.armNames[d.arm]}${SEP}`, `${SEP}z${SEP}`)).toString('base64url')}.${sig}`;
    const cases: Array<[unknown, RegExp]> = [
      [{ decision_id: forged, reward: 1 }, /bad signature/],
      [{ decision_id: tampered, reward: 1 }, /bad signature/],
      [{ decision_id: 'not-an-id', reward: 1 }, /malformed/],
      [{ decision_id: '', reward: 1 }, /decision_id/],
      [{ reward: 1 }, /decision_id/],
      [{ decision_id: 42, reward: 1 }, /decision_id/],
      [{ decision_id: d.id, reward: 1.5 }, /\[0, 1\]/],
      [{ decision_id: d.id, reward: -0.1 }, /\[0, 1\]/],
      [{ decision_id: d.id, reward: '0.5' }, /\[0, 1\]/],
      [{ decision_id: d.id }, /\[0, 1\]/],
      ['just a string', /object/],
      [null, /object/],
      [[{ decision_id: d.id, reward: 1 }], /object/],
    ];
    for (const [item, reason] of cases) {
      const ans = (await r.fm.submit(item));
      expect(ans.outcome, JSON.stringify(item)).toBe('invalid');
      expect(ans.reason).toMatch(reason);
    }
    expect(await outcomes(r, 'invalid')).toBe(cases.length);
    // None of it touched the statistics or the held decision.
    expect(r.fm.pendingSize).toBe(1);
    expect(samples(r, 'fb', 'a').n + samples(r, 'fb', 'b').n).toBe(0);
  });

  it('refuses ids for routes or arms that are not configured (genuine signature)', async () => {
    const r = rig();
    const sameKey = new DecisionIdCodec(KEY, 'r1');
    const now = r.clock.now();
    expect((await r.fm.submit({ decision_id: sameKey.issue('gone', 'a', now), reward: 1 }))).toMatchObject({ outcome: 'invalid', reason: expect.stringMatching(/route "gone"/) });
    expect((await r.fm.submit({ decision_id: sameKey.issue('fb', 'zzz', now), reward: 1 }))).toMatchObject({ outcome: 'invalid', reason: expect.stringMatching(/arm "zzz"/) });
  });

  it('answers expired past the wait and settles the held decision with its default', async () => {
    const r = rig();
    const { d, arm } = serve(r, 'fb');
    r.clock.advance(WAIT + 1);
    const ans = (await r.fm.submit({ decision_id: d.id, reward: 1 }));
    expect(ans.outcome).toBe('expired');
    expect(samples(r, 'fb', arm)).toEqual({ n: 1, sum: 0.25 });
    expect(await rewards(r, 'fb', arm, 'default')).toBe(1);
    expect(r.fm.pendingSize).toBe(0);
    expect((await r.fm.submit({ decision_id: d.id, reward: 1 })).outcome).toBe('duplicate');
  });

  it('exactly at the wait feedback is still accepted', async () => {
    const r = rig();
    const { d } = serve(r, 'fb');
    r.clock.advance(WAIT);
    expect((await r.fm.submit({ decision_id: d.id, reward: 1 })).outcome).toBe('accepted');
  });

  it('the sweep applies the default once the wait has passed (ManualClock)', async () => {
    const r = rig();
    const first = serve(r, 'fb');
    r.clock.advance(10_000);
    const second = serve(r, 'fb');
    r.clock.advance(WAIT - 10_000);
    expect(r.fm.sweep()).toBe(0);
    r.clock.advance(1);
    expect(r.fm.sweep()).toBe(1);
    expect(r.fm.pendingSize).toBe(1);
    expect(samples(r, 'fb', first.arm).sum).toBeCloseTo(0.25);
    expect(await outcomes(r, 'defaulted')).toBe(1);
    // The second is still open to feedback.
    expect((await r.fm.submit({ decision_id: second.d.id, reward: 0.5 })).outcome).toBe('accepted');
    r.clock.advance(WAIT);
    expect(r.fm.sweep()).toBe(0);
    expect(await rewards(r, 'fb', first.arm, 'default') + (first.arm === second.arm ? 0 : await rewards(r, 'fb', second.arm, 'default'))).toBe(1);
  });

  it('with default: null the wait passes without any reward', async () => {
    const r = rig({ feedback: '{ wait: 30s, default: null }' });
    const { arm } = serve(r, 'fb');
    r.clock.advance(WAIT + 1);
    expect(r.fm.sweep()).toBe(1);
    expect(samples(r, 'fb', arm).n).toBe(0);
    expect(await outcomes(r, 'unanswered')).toBe(1);
    expect(await rewards(r, 'fb', arm, 'default')).toBe(0);
  });

  it('feedback that arrives before the response counts once; the response is then not learned', async () => {
    const r = rig();
    const rt = r.engine.route('fb')!;
    const d = r.engine.decide(rt, null);
    const arm = rt.armNames[d.arm]!;
    expect((await r.fm.submit({ decision_id: d.id, reward: 0.9 })).outcome).toBe('accepted');
    const o = r.engine.onResponse(d, 200, undefined, 5);
    expect(o.recorded).toBe(false);
    expect(r.fm.pendingSize).toBe(0);
    expect(samples(r, 'fb', arm)).toEqual({ n: 1, sum: 0.9 });
  });

  it('a frozen route accepts feedback without learning from it', async () => {
    const r = rig();
    const { d, arm } = serve(r, 'fb');
    r.engine.setMode('fb', 'frozen');
    expect((await r.fm.submit({ decision_id: d.id, reward: 1 }))).toMatchObject({ outcome: 'accepted', recorded: false });
    expect(samples(r, 'fb', arm).n).toBe(0);
  });

  it('past the pending bound the oldest held decision is settled early with its default', async () => {
    const r = rig({ maxPending: 3 });
    const served = [serve(r, 'fb'), serve(r, 'fb'), serve(r, 'fb')];
    expect(r.fm.pendingSize).toBe(3);
    const fourth = serve(r, 'fb');
    expect(r.fm.pendingSize).toBe(3);
    expect(await outcomes(r, 'evicted')).toBe(1);
    const totalDefault = (await rewards(r, 'fb', 'a', 'default')) + (await rewards(r, 'fb', 'b', 'default'));
    expect(totalDefault).toBe(1);
    expect((await r.fm.submit({ decision_id: served[0]!.d.id, reward: 1 })).outcome).toBe('duplicate');
    expect((await r.fm.submit({ decision_id: served[1]!.d.id, reward: 1 })).outcome).toBe('accepted');
    expect((await r.fm.submit({ decision_id: fourth.d.id, reward: 1 })).outcome).toBe('accepted');
    for (let i = 0; i < 50; i++) serve(r, 'fb');
    expect(r.fm.pendingSize).toBeLessThanOrEqual(3);
  });

  it('past its memory bound it forgets the oldest and refuses everything as old (a watermark), so nothing counts twice', async () => {
    const r = rig({ maxSettled: 2 });
    const a = serve(r, 'fb');
    r.clock.advance(1);
    const b = serve(r, 'fb');
    r.clock.advance(1);
    const c = serve(r, 'fb');
    for (const x of [a, b, c]) expect((await r.fm.submit({ decision_id: x.d.id, reward: 1 })).outcome).toBe('accepted');
    expect(r.fm.settledSize).toBe(2);
    // a was forgotten: its replay is refused as expired (code forgotten), not accepted again.
    expect((await r.fm.submit({ decision_id: a.d.id, reward: 1 }))).toMatchObject({ outcome: 'expired', code: 'forgotten' });
    expect((await r.fm.submit({ decision_id: c.d.id, reward: 1 }))).toMatchObject({ outcome: 'duplicate', code: 'already_settled' });
    r.clock.advance(WAIT + 1);
    r.fm.sweep();
    expect(r.fm.settledSize).toBe(0);
    // Forgotten, but too old anyway: still not counted twice.
    expect((await r.fm.submit({ decision_id: c.d.id, reward: 1 }))).toMatchObject({ outcome: 'expired', code: 'wait_passed' });
    expect(samples(r, 'fb', 'a').n + samples(r, 'fb', 'b').n).toBe(3);
  });

  it('keeps settled decisions for the whole wait, not a fixed count: a replay after 250,000 other settlements is a duplicate', async () => {
    const r = rig();
    const first = serve(r, 'fb');
    expect((await r.fm.submit({ decision_id: first.d.id, reward: 1 })).outcome).toBe('accepted');
    // 250,000 failed responses settle at once (more than the old 200,000-id FIFO).
    const route = r.engine.route('fb')!;
    for (let i = 0; i < 250_000; i++) r.engine.onResponse(r.engine.decide(route, null), 500, undefined, 5);
    expect(r.fm.settledSize).toBe(250_001);
    r.clock.advance(WAIT - 1);
    expect((await r.fm.submit({ decision_id: first.d.id, reward: 1 }))).toMatchObject({ outcome: 'duplicate' });
    expect(samples(r, 'fb', first.arm).sum).toBeLessThan(250_000);
  });

  it('100 re-encodings and a late replay of one decision id: exactly one reward', async () => {
    const r = rig();
    const { d, arm } = serve(r, 'fb');
    const answers = await r.fm.submitBatch([d.id, ...reencodings(d.id, 100)].map((id) => ({ decision_id: id, reward: 1 })));
    expect(answers[0]!.outcome).toBe('accepted');
    expect(answers.slice(1).map((a) => a.code)).toEqual(Array(100).fill(expect.stringMatching(/^(non_canonical|malformed)$/)));
    r.clock.advance(WAIT - 10);
    expect((await r.fm.submit({ decision_id: d.id, reward: 1 })).outcome).toBe('duplicate');
    r.clock.advance(20);
    r.fm.sweep();
    expect((await r.fm.submit({ decision_id: d.id, reward: 1 })).outcome).toBe('expired');
    expect(samples(r, 'fb', arm)).toEqual({ n: 1, sum: 1 });
    expect((await rewards(r, 'fb', arm, 'feedback')) + (await rewards(r, 'fb', arm, 'default'))).toBe(1);
  });

  it('stop() settles every held decision with its default', async () => {
    const r = rig();
    const { arm } = serve(r, 'fb');
    expect(r.fm.stop()).toBe(1);
    expect(r.fm.pendingSize).toBe(0);
    expect(samples(r, 'fb', arm)).toEqual({ n: 1, sum: 0.25 });
    // Nothing would settle a decision held after stop: it is learned at once.
    const late = serve(r, 'fb');
    expect(late.o.recorded).toBe(true);
    expect(r.fm.pendingSize).toBe(0);
  });
});
