/**
 * Feedback once, fleet-wide: only the replica that issued a decision settles
 * it. Another replica checks what it can, forwards the item to the issuer and
 * relays its answer; an issuer that cannot be asked means nothing is counted.
 * Replicas here are real engines sharing the decision-id key; the mesh is an
 * in-process forwarder (the gossip carrier has its own tests in
 * test/gossip/feedback-forward.test.ts, and the whole path runs through real
 * Envoy in test/integration/feedback-fleet.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { DecisionIdCodec } from '../../src/reward/decision-id.js';
import { FeedbackManager } from '../../src/reward/feedback.js';
import { parseIssuerAnswers, type FeedbackForwarder, type ForwardItem } from '../../src/reward/feedback-answer.js';
import { KEY, makeConfig, makeEngine, metricValue, type Rig } from '../support/admin-fixtures.js';

const WAIT = 30_000;
const config = makeConfig([{ name: 'fb', feedback: '{ wait: 30s, default: 0.25 }' }]);

type Replica = Rig & { fm: FeedbackManager; name: string };

/** Replicas r1..rN; each forwards to the others in process (down: issuers that cannot be asked). */
function fleet(n: number, opts: { mesh?: boolean } = {}) {
  const down = new Set<string>();
  const calls: Array<{ from: string; issuer: string; items: readonly ForwardItem[] }> = [];
  const replicas: Replica[] = [];
  for (let i = 1; i <= n; i++) {
    const r = makeEngine(config, { replica: `r${i}`, seed: i });
    const fm = new FeedbackManager({ engine: r.engine, clock: r.clock, metrics: r.metrics, logger: null });
    r.engine.observe(fm);
    replicas.push({ ...r, fm, name: `r${i}` });
  }
  for (const me of replicas) {
    const forwarder: FeedbackForwarder = {
      async forward(issuer, items) {
        calls.push({ from: me.name, issuer, items });
        const target = replicas.find((x) => x.name === issuer);
        if (!target || down.has(issuer)) return { ok: false, error: `replica "${issuer}" is not in the gossip mesh` };
        // Through JSON, as on the wire.
        return { ok: true, value: JSON.parse(JSON.stringify(target.fm.settleForwarded(JSON.parse(JSON.stringify(items))))) };
      },
    };
    if (opts.mesh !== false) me.fm.forwarder = forwarder;
  }
  return { replicas, down, calls };
}

function serve(r: Replica) {
  const rt = r.engine.route('fb')!;
  const d = r.engine.decide(rt, null);
  r.engine.onResponse(d, 200, undefined, 5);
  return { id: d.id, arm: rt.armNames[d.arm]! };
}

const samplesOf = (r: Replica) => r.engine.armSummary(r.engine.route('fb')!).reduce((acc, s) => ({ n: acc.n + s.stats.n, sum: acc.sum + s.stats.sum }), { n: 0, sum: 0 });
const fleetSamples = (rs: Replica[]) => rs.map(samplesOf).reduce((a, b) => ({ n: a.n + b.n, sum: a.sum + b.sum }), { n: 0, sum: 0 });
const outcome = (r: Replica, o: string) => metricValue(r.metrics, 'envoy_bandit_feedback_total', { outcome: o });

describe('feedback for another replica’s decision', () => {
  it('is forwarded to its issuer, which alone counts it (in its own slot); the receiver counts it as forwarded', async () => {
    const { replicas, calls } = fleet(2);
    const [r1, r2] = replicas as [Replica, Replica];
    const d = serve(r2);
    const ans = await r1.fm.submit({ decision_id: d.id, reward: 0.75 });
    expect(ans).toEqual({ decision_id: d.id, outcome: 'accepted', recorded: true, settled_by: 'r2' });
    expect(calls).toEqual([{ from: 'r1', issuer: 'r2', items: [{ decision_id: d.id, reward: 0.75 }] }]);
    expect(samplesOf(r1)).toEqual({ n: 0, sum: 0 });
    expect(samplesOf(r2)).toEqual({ n: 1, sum: 0.75 });
    expect(r2.fm.pendingSize).toBe(0);
    expect(await outcome(r1, 'forwarded')).toBe(1);
    expect(await outcome(r1, 'accepted')).toBe(0);
    expect(await outcome(r2, 'accepted')).toBe(1);
  });

  it('posted to all three replicas with a default configured, counts once, and the issuer applies no default after it', async () => {
    const { replicas } = fleet(3);
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const d = serve(r2);
    expect(r2.fm.pendingSize).toBe(1);
    const answers = [await r1.fm.submit({ decision_id: d.id, reward: 1 }), await r2.fm.submit({ decision_id: d.id, reward: 1 }), await r3.fm.submit({ decision_id: d.id, reward: 1 })];
    expect(answers.map((a) => a.outcome)).toEqual(['accepted', 'duplicate', 'duplicate']);
    expect(answers.map((a) => a.settled_by)).toEqual(['r2', undefined, 'r2']);
    for (const r of replicas) r.clock.advance(WAIT + 1);
    for (const r of replicas) r.fm.sweep();
    expect(fleetSamples(replicas)).toEqual({ n: 1, sum: 1 });
    expect(await metricValue(r2.metrics, 'envoy_bandit_rewards_total', { route: 'fb', arm: d.arm, source: 'default' })).toBe(0);
    expect(await outcome(r2, 'defaulted')).toBe(0);
  });

  it('whatever the order: the issuer first, then the others, is still one reward', async () => {
    const { replicas } = fleet(3);
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const d = serve(r1);
    const answers = await Promise.all([r2, r3, r1, r2].map((r) => r.fm.submit({ decision_id: d.id, reward: 0.5 })));
    expect(answers.filter((a) => a.outcome === 'accepted')).toHaveLength(1);
    expect(answers.filter((a) => a.outcome === 'duplicate')).toHaveLength(3);
    expect(fleetSamples(replicas)).toEqual({ n: 1, sum: 0.5 });
  });

  it('when the issuer cannot be asked: unavailable (issuer_unreachable), nothing counted, and the issuer’s default applies once', async () => {
    const { replicas, down } = fleet(2);
    const [r1, r2] = replicas as [Replica, Replica];
    const d = serve(r2);
    down.add('r2');
    const ans = await r1.fm.submit({ decision_id: d.id, reward: 1 });
    expect(ans).toMatchObject({ decision_id: d.id, outcome: 'unavailable', code: 'issuer_unreachable' });
    expect(ans.reason).toMatch(/"r2".*not in the gossip mesh.*retry/);
    expect(await outcome(r1, 'unavailable')).toBe(1);
    expect(fleetSamples(replicas)).toEqual({ n: 0, sum: 0 });
    r2.clock.advance(WAIT + 1);
    expect(r2.fm.sweep()).toBe(1);
    expect(fleetSamples(replicas)).toEqual({ n: 1, sum: 0.25 });
  });

  it('a retry after the issuer is back is counted once by the issuer', async () => {
    const { replicas, down } = fleet(2);
    const [r1, r2] = replicas as [Replica, Replica];
    const d = serve(r2);
    down.add('r2');
    expect((await r1.fm.submit({ decision_id: d.id, reward: 1 })).outcome).toBe('unavailable');
    down.delete('r2');
    expect(await r1.fm.submit({ decision_id: d.id, reward: 1 })).toMatchObject({ outcome: 'accepted', settled_by: 'r2' });
    expect(fleetSamples(replicas)).toEqual({ n: 1, sum: 1 });
  });

  it('without a gossip mesh it is refused (other_replica, naming the issuer) and counted nowhere', async () => {
    const { replicas } = fleet(2, { mesh: false });
    const [r1, r2] = replicas as [Replica, Replica];
    const d = serve(r2);
    const ans = await r1.fm.submit({ decision_id: d.id, reward: 1 });
    expect(ans).toMatchObject({ outcome: 'invalid', code: 'other_replica' });
    expect(ans.reason).toMatch(/"r2"/);
    expect(fleetSamples(replicas)).toEqual({ n: 0, sum: 0 });
  });

  it('what the receiver can judge is answered there and never forwarded: bad signature, bad reward, past the wait', async () => {
    const { replicas, calls } = fleet(2);
    const [r1, r2] = replicas as [Replica, Replica];
    const d = serve(r2);
    const forged = new DecisionIdCodec(Buffer.alloc(32, 9), 'r2').issue('fb', 'a', r1.clock.now());
    expect(await r1.fm.submit({ decision_id: forged, reward: 1 })).toMatchObject({ outcome: 'invalid', code: 'bad_signature' });
    expect(await r1.fm.submit({ decision_id: d.id, reward: 2 })).toMatchObject({ outcome: 'invalid', code: 'bad_reward' });
    r1.clock.advance(WAIT + 1);
    expect(await r1.fm.submit({ decision_id: d.id, reward: 1 })).toMatchObject({ outcome: 'expired', code: 'wait_passed' });
    expect(calls).toEqual([]);
  });

  it('a batch is forwarded in one call per issuer and answered in the order posted', async () => {
    const { replicas, calls } = fleet(3);
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const a = serve(r2);
    const b = serve(r3);
    const c = serve(r2);
    const own = serve(r1);
    const answers = await r1.fm.submitBatch([a, b, { bad: true }, c, own].map((x) => ('id' in x ? { decision_id: x.id, reward: 1 } : x)));
    expect(answers.map((x) => [x.outcome, x.settled_by])).toEqual([
      ['accepted', 'r2'],
      ['accepted', 'r3'],
      ['invalid', undefined],
      ['accepted', 'r2'],
      ['accepted', undefined],
    ]);
    expect(calls.map((x) => [x.issuer, x.items.length]).sort()).toEqual([
      ['r2', 2],
      ['r3', 1],
    ]);
    expect([samplesOf(r1).n, samplesOf(r2).n, samplesOf(r3).n]).toEqual([1, 2, 1]);
  });
});

describe('the issuer settling forwarded feedback', () => {
  it('refuses an item it did not issue (not_issuer) and a batch that is not an array of 1-1000 items', async () => {
    const { replicas } = fleet(3);
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const d = serve(r3);
    expect(r2.fm.settleForwarded([{ decision_id: d.id, reward: 1 }])).toEqual([expect.objectContaining({ outcome: 'invalid', code: 'not_issuer' })]);
    expect(r2.fm.settleForwarded({ decision_id: d.id })).toMatch(/array/);
    expect(r2.fm.settleForwarded([])).toMatch(/1-1000/);
    expect(fleetSamples([r1, r2, r3]).n).toBe(0);
  });

  it('refuses an id from an earlier process of itself (previous_incarnation): that process settled it at shutdown', async () => {
    const { replicas } = fleet(2);
    const [r1, r2] = replicas as [Replica, Replica];
    const earlier = new DecisionIdCodec(KEY, 'r2', Date.now() - 60_000).issue('fb', 'a', r2.clock.now());
    const ans = await r1.fm.submit({ decision_id: earlier, reward: 1 });
    expect(ans).toMatchObject({ outcome: 'expired', code: 'previous_incarnation', settled_by: 'r2' });
    expect(await r2.fm.submit({ decision_id: earlier, reward: 1 })).toMatchObject({ outcome: 'expired', code: 'previous_incarnation' });
    expect(fleetSamples(replicas).n).toBe(0);
  });

  it('an issuer answer that does not match what was sent is unusable: unavailable, nothing counted here', async () => {
    const sent = [{ decision_id: 'x.y', reward: 1 }];
    expect(parseIssuerAnswers([], sent)).toMatch(/expected 1 answers/);
    expect(parseIssuerAnswers([{ decision_id: 'other', outcome: 'accepted' }], sent)).toMatch(/another decision/);
    expect(parseIssuerAnswers([{ decision_id: 'x.y', outcome: 'counted twice' }], sent)).toMatch(/no valid outcome/);
    expect(parseIssuerAnswers([{ decision_id: 'x.y', outcome: 'accepted', recorded: true, extra: 1 }], sent)).toEqual([{ decision_id: 'x.y', outcome: 'accepted', recorded: true }]);

    const { replicas } = fleet(2);
    const [r1, r2] = replicas as [Replica, Replica];
    const d = serve(r2);
    r1.fm.forwarder = { forward: async () => ({ ok: true, value: [] }) };
    expect(await r1.fm.submit({ decision_id: d.id, reward: 1 })).toMatchObject({ outcome: 'unavailable', code: 'issuer_unreachable' });
    expect(fleetSamples(replicas).n).toBe(0);
  });
});
