/**
 * Feedback once, fleet-wide, behind real Envoy: three (Envoy + sidecar)
 * replicas gossiping and streaming to an aggregator, a route with delayed
 * feedback and a non-null default. Feedback for one decision posted to all
 * three replicas is counted once — by the issuer, which then applies no
 * default — in every replica's fleet view and in the aggregator's log. An
 * issuer that has stopped cannot be asked: the feedback is refused (503,
 * issuer_unreachable) and the decision counts once, with the default the
 * issuer applied at shutdown.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AggregatorServer } from '../../src/aggregator/server.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { makeConfig as aggregatorConfig } from '../support/aggregator-fixtures.js';
import { startBackend, type Backend } from '../support/backend.js';
import { startEnvoy, type RunningEnvoy } from '../support/envoy.js';
import { freePort } from '../support/ports.js';
import { sleep, waitFor } from '../support/wait.js';

const INTERVAL_MS = 200;
const WAIT_MS = 2_000;
const DEFAULT_REWARD = 0.25;
const ARMS = ['model-a', 'model-b'];

function replicaConfig(i: number, gossip: string[], aggregator: string, secretFile: string): Config {
  const yaml = `
replica_id: replica-${i + 1}
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
decision_ids: { secret_file: ${secretFile} }
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms: [{ name: model-a, cluster: model_a }, { name: model-b, cluster: model_b }]
    policy: { type: thompson, model: beta }
    sticky: null
    guardrails: null
    reward:
      feedback: { wait: ${WAIT_MS}ms, default: ${DEFAULT_REWARD} }
gossip: { listen: ${gossip[i]}, peers: [${gossip.filter((_, j) => j !== i).join(', ')}], interval: ${INTERVAL_MS}ms, fanout: 1, secret_file: ${secretFile} }
aggregator: { address: ${aggregator}, batch: 8, flush: 20ms }
log: { level: silent }
`;
  const r = parseConfig(yaml, { env: {}, hostname: `replica-${i + 1}` });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

interface Answer {
  decision_id: string;
  outcome: string;
  code?: string;
  settled_by?: string;
}

describe('feedback for one decision, posted to every replica of a fleet', () => {
  let dir: string;
  let logFile: string;
  let agg: AggregatorServer;
  const backends: Backend[] = [];
  const configs: Config[] = [];
  const sidecars: Sidecar[] = [];
  const envoys: RunningEnvoy[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eb-feedback-fleet-'));
    const secretFile = join(dir, 'fleet.secret');
    writeFileSync(secretFile, 'fleet-secret-for-the-feedback-test');
    logFile = join(dir, 'rewards.jsonl');
    const gossip = await Promise.all([0, 1, 2, 3].map(async () => `127.0.0.1:${await freePort()}`));
    const aggAddress = `127.0.0.1:${await freePort()}`;
    const aggCfg = aggregatorConfig({
      replica: 'aggregator',
      aggregator: { address: aggAddress, log_file: logFile },
      gossip: { listen: gossip[3]!, peers: gossip.slice(0, 3), interval: `${INTERVAL_MS}ms`, secret_file: secretFile },
    });
    agg = new AggregatorServer({ config: aggCfg, logger: silentLogger() });
    await agg.start();
    backends.push(await startBackend({ name: 'model_a' }), await startBackend({ name: 'model_b' }));
    for (let i = 0; i < 3; i++) configs.push(replicaConfig(i, gossip, aggAddress, secretFile));
    for (let i = 0; i < 3; i++) {
      const s = await Sidecar.create({ config: configs[i]!, logger: silentLogger(), seed: 30 + i, env: {} });
      await s.start();
      sidecars.push(s);
      const [host, port] = s.addresses.extProc.split(':');
      envoys.push(await startEnvoy({ extProc: { host: host!, port: Number(port) }, clusters: { model_a: backends[0]!.port, model_b: backends[1]!.port }, extProcMessageTimeout: '2s' }));
    }
    await waitFor(() => sidecars.every((s) => s.readiness().ready), 10_000, 'replicas ready');
  }, 60_000);

  afterAll(async () => {
    for (const e of envoys) await e.stop();
    for (const s of sidecars) await s.stop(0);
    await agg?.stop();
    await Promise.all(backends.map((b) => b.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** One request through replica i's Envoy: the decision id it was given. */
  const decide = async (i: number): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${envoys[i]!.port}/v1/chat/completions`, { method: 'POST', body: '{}' });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    const id = res.headers.get('x-bandit-decision-id');
    expect(id).toBeTruthy();
    return id!;
  };
  const post = async (i: number, body: unknown): Promise<{ status: number; json: Answer }> => {
    const res = await fetch(`http://${sidecars[i]!.addresses.admin}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Answer };
  };
  /** A replica's fleet view of the route: observations and reward sum over both arms. */
  const fleet = (s: Sidecar) => {
    const ri = s.state.routeIndex('chat')!;
    const t = ARMS.map((_, a) => s.state.fleet(ri, a, { n: 0, sum: 0, sumSq: 0 }));
    return { n: t.reduce((x, v) => x + v.n, 0), sum: Math.round(t.reduce((x, v) => x + v.sum, 0) * 1000) / 1000 };
  };
  const logged = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { decision_id: string; source: string; reward: number; replica?: string });
  const feedbackTotal = async (s: Sidecar, outcome: string) => (await s.metrics.feedback.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;

  it('is counted once, by the issuer, in every fleet view and once in the aggregator log; the issuer applies no default', async () => {
    // Decisions issued by replica 2: one posted to all three in turn, one to all three at once, one never posted.
    const one = await decide(1);
    const two = await decide(1);
    const none = await decide(1);
    expect(fleet(sidecars[1]!).n).toBe(0);

    const inTurn = [await post(0, { decision_id: one, reward: 1 }), await post(1, { decision_id: one, reward: 1 }), await post(2, { decision_id: one, reward: 1 })];
    expect(inTurn.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(inTurn.map((a) => [a.json.outcome, a.json.settled_by])).toEqual([
      ['accepted', 'replica-2'],
      ['duplicate', undefined],
      ['duplicate', 'replica-2'],
    ]);
    const atOnce = await Promise.all([0, 1, 2].map((i) => post(i, { decision_id: two, reward: 1 })));
    expect(atOnce.map((a) => a.json.outcome).sort()).toEqual(['accepted', 'duplicate', 'duplicate']);

    // Past the wait (and the issuer's next sweep): the unposted one gets the default, the posted ones none.
    await sleep(WAIT_MS + 1_500);
    const expected = { n: 3, sum: 1 + 1 + DEFAULT_REWARD };
    await waitFor(() => sidecars.every((s) => JSON.stringify(fleet(s)) === JSON.stringify(expected)), 5_000, `every fleet view at ${JSON.stringify(expected)}`);
    for (const s of sidecars) expect(fleet(s)).toEqual(expected);
    // Only the issuer wrote: the other two slots hold nothing.
    const own = (s: Sidecar) => ARMS.reduce((t, _, a) => t + s.state.local(s.state.routeIndex('chat')!, a, { n: 0, sum: 0, sumSq: 0 }).n, 0);
    expect(sidecars.map(own)).toEqual([0, 3, 0]);

    expect(await feedbackTotal(sidecars[1]!, 'accepted')).toBe(2);
    expect(await feedbackTotal(sidecars[1]!, 'defaulted')).toBe(1);
    expect((await feedbackTotal(sidecars[0]!, 'accepted')) + (await feedbackTotal(sidecars[2]!, 'accepted'))).toBe(0);
    expect((await feedbackTotal(sidecars[0]!, 'forwarded')) + (await feedbackTotal(sidecars[2]!, 'forwarded'))).toBe(4);

    await waitFor(() => logged().length >= 3, 5_000, 'three rewards in the aggregator log');
    await sleep(300);
    const lines = logged();
    expect(lines.filter((l) => l.decision_id === one).map((l) => [l.source, l.reward])).toEqual([['feedback', 1]]);
    expect(lines.filter((l) => l.decision_id === two).map((l) => [l.source, l.reward])).toEqual([['feedback', 1]]);
    expect(lines.filter((l) => l.decision_id === none).map((l) => [l.source, l.reward])).toEqual([['default', DEFAULT_REWARD]]);
    expect(lines).toHaveLength(3);
  });

  it('when the issuer has stopped: refused with 503 issuer_unreachable, and its shutdown default is the one count', async () => {
    const before = fleet(sidecars[0]!);
    const orphan = await decide(2);
    await envoys[2]!.stop();
    await sidecars[2]!.stop(0);
    const ans = await post(0, { decision_id: orphan, reward: 1 });
    expect(ans.status).toBe(503);
    expect(ans.json).toMatchObject({ decision_id: orphan, outcome: 'unavailable', code: 'issuer_unreachable' });
    // Replica 3 settled its held decision with the default as it stopped; replicas 1 and 2 see that once.
    const expected = { n: before.n + 1, sum: Math.round((before.sum + DEFAULT_REWARD) * 1000) / 1000 };
    await waitFor(() => [0, 1].every((i) => JSON.stringify(fleet(sidecars[i]!)) === JSON.stringify(expected)), 5_000, 'the shutdown default in the fleet view');
    await waitFor(() => logged().some((l) => l.decision_id === orphan), 5_000, 'the shutdown default in the log');
    expect(logged().filter((l) => l.decision_id === orphan).map((l) => [l.source, l.reward])).toEqual([['default', DEFAULT_REWARD]]);
  });
});
