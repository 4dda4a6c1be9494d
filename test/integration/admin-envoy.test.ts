/**
 * The admin API driving a live sidecar behind real Envoy: pause, resume,
 * freeze, reload and delayed feedback, observed from the client side
 * (which backend answered) and from /v1/routes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/admin-stack.js';

function yaml(dir: string, chatArms: Array<[string, string]>): string {
  const arms = (list: Array<[string, string]>) => list.map(([n, c]) => `      - { name: ${n}, cluster: ${c}, cost: 0 }`).join('\n');
  const common = [
    '    policy: { type: epsilon_greedy, epsilon: 0.4 }',
    '    sticky: null',
    '    guardrails: null',
  ].join('\n');
  return `replica_id: it-admin
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
admin: { token_file: ${dir}/token }
decision_ids: { secret_file: ${dir}/key }
log: { level: info, decisions_file: ${dir}/decisions.jsonl }
routes:
  - name: fb
    match: { path_prefix: /fb }
    arms:
${arms([['a', 'model_a'], ['b', 'model_b']])}
    default_arm: a
${common}
    reward:
      weights: { success: 1, latency: 0, header: 0, cost: 0 }
      feedback: { wait: 30s, default: null }
  - name: chat
    match: { path_prefix: / }
    arms:
${arms(chatArms)}
    default_arm: a
${common}
    reward:
      weights: { success: 1, latency: 0, header: 0, cost: 0 }
`;
}

interface ArmView {
  name: string;
  state: string;
  samples: number;
  share: number;
  mean: number;
}

describe('admin API against a live sidecar behind real Envoy', () => {
  let s: Stack;
  const chat = async (): Promise<{ mode: string; arms: ArmView[] }> => {
    const r = await s.admin('GET', '/v1/routes', undefined, null);
    expect(r.status).toBe(200);
    return (r.json.routes as Array<{ name: string; mode: string; arms: ArmView[] }>).find((x) => x.name === 'chat')!;
  };
  const byArm = (v: { arms: ArmView[] }) => Object.fromEntries(v.arms.map((a) => [a.name, a]));

  beforeAll(async () => {
    s = await startStack({
      yaml: (dir) => yaml(dir, [['a', 'model_a'], ['b', 'model_b']]),
      backends: { model_a: { errorRate: 0.3 }, model_b: {}, model_c: {} },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('learns from live traffic before any admin call', async () => {
    const res = await s.traffic('/v1/chat', 80);
    expect(res.every((r) => r.status === 200 || r.status === 500)).toBe(true);
    const arms = byArm(await chat());
    expect(arms.a!.samples + arms.b!.samples).toBe(80);
    expect(arms.a!.samples).toBeGreaterThan(0);
    expect(arms.b!.samples).toBeGreaterThan(0);
  });

  it('pause sends all traffic to the default arm; resume restores learning', async () => {
    expect((await s.admin('POST', '/v1/routes/chat/pause', undefined, null)).status).toBe(401);
    const p = await s.admin('POST', '/v1/routes/chat/pause');
    expect(p).toMatchObject({ status: 200, json: { mode: 'paused' } });
    const paused = await s.traffic('/v1/chat', 40);
    expect(new Set(paused.map((r) => r.headers['x-backend']))).toEqual(new Set(['model_a']));
    expect(new Set(paused.map((r) => r.headers['x-bandit-arm']))).toEqual(new Set(['a']));
    const view = await chat();
    expect(view.mode).toBe('paused');
    expect(view.arms.map((a) => [a.name, a.state, a.share])).toEqual([['a', 'paused', 1], ['b', 'paused', 0]]);

    expect((await s.admin('POST', '/v1/routes/chat/resume')).json).toMatchObject({ mode: 'active', previous_mode: 'paused' });
    const before = byArm(await chat());
    const resumed = await s.traffic('/v1/chat', 60);
    expect(new Set(resumed.map((r) => r.headers['x-bandit-arm']))).toEqual(new Set(['a', 'b']));
    const after = byArm(await chat());
    expect(after.a!.samples + after.b!.samples).toBe(before.a!.samples + before.b!.samples + 60);
  });

  it('freeze holds the shares and the samples while responses keep arriving', async () => {
    expect((await s.admin('POST', '/v1/routes/chat/freeze')).json).toMatchObject({ mode: 'frozen' });
    const before = await chat();
    const res = await s.traffic('/v1/chat', 50);
    expect(res.filter((r) => r.status === 200).length).toBeGreaterThan(0);
    expect(new Set(res.map((r) => r.headers['x-bandit-arm'])).size).toBe(2);
    const after = await chat();
    expect(after.mode).toBe('frozen');
    expect(after.arms.map((a) => [a.name, a.samples, a.share, a.mean])).toEqual(before.arms.map((a) => [a.name, a.samples, a.share, a.mean]));
    expect((await s.admin('POST', '/v1/routes/chat/resume')).json).toMatchObject({ mode: 'active' });
    await s.traffic('/v1/chat', 10);
    const learning = byArm(await chat());
    expect(learning.a!.samples + learning.b!.samples).toBe(before.arms.reduce((acc, a) => acc + a.samples, 0) + 10);
  });

  it('a bad reload is refused with every issue and the old config keeps serving', async () => {
    const good = await readFile(s.configPath, 'utf8');
    await s.writeConfig(good.replace('default_arm: a\n    policy: { type: epsilon_greedy', 'default_arm: nope\n    policy: { type: bogus').replace('cluster: model_b', 'cluster: ""'));
    const r = await s.admin('POST', '/v1/reload');
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('EB_CONFIG_INVALID');
    const paths = (r.json.error.issues as Array<{ path: string }>).map((i) => i.path);
    expect(paths.length).toBeGreaterThanOrEqual(2);
    expect(paths.some((p) => p.startsWith('routes[0]'))).toBe(true);
    await s.writeConfig(good.replace('admin: 127.0.0.1:0', 'admin: 127.0.0.1:1'));
    const moved = await s.admin('POST', '/v1/reload');
    expect(moved.status).toBe(400);
    expect(moved.json.error.issues.map((i: { path: string }) => i.path)).toEqual(['listen.admin']);
    const res = await s.traffic('/fb/x', 5);
    expect(res.every((x) => x.status > 0 && x.headers['x-bandit-decision-id'])).toBe(true);
    expect((await s.admin('GET', '/v1/routes', undefined, null)).json.routes.map((r: { name: string }) => r.name)).toEqual(['fb', 'chat']);
    await s.writeConfig(good);
  });

  it('a reload that removes one arm and adds another keeps the statistics of the rest', async () => {
    const before = byArm(await chat());
    await s.writeConfig(yaml(s.dir, [['a', 'model_a'], ['c', 'model_c']]));
    const r = await s.admin('POST', '/v1/reload');
    expect(r).toMatchObject({ status: 200, json: { status: 'reloaded', routes: ['fb', 'chat'] } });
    const after = byArm(await chat());
    expect(Object.keys(after)).toEqual(['a', 'c']);
    expect(after.a!.samples).toBe(before.a!.samples);
    expect(after.a!.mean).toBeCloseTo(before.a!.mean, 12);
    expect(after.c!.samples).toBe(0);
    const res = await s.traffic('/v1/chat', 60);
    const seen = new Set(res.map((x) => x.headers['x-backend']));
    expect(seen.has('model_c')).toBe(true);
    expect(seen.has('model_b')).toBe(false);
  });

  it('delayed feedback: the client posts a reward against the decision id it got from Envoy', async () => {
    const [res] = await s.traffic('/fb/ask', 1);
    const id = res!.headers['x-bandit-decision-id']!;
    const arm = res!.headers['x-bandit-arm']!;
    expect(id).toMatch(/\./);
    const fbRoute = async () =>
      Object.fromEntries(((await s.admin('GET', '/v1/routes', undefined, null)).json.routes as Array<{ name: string; arms: ArmView[] }>).find((x) => x.name === 'fb')!.arms.map((a) => [a.name, a]));
    const before = (await fbRoute())[arm]!.samples;
    const posted = await s.admin('POST', '/v1/feedback', [{ decision_id: id, reward: 0.6 }, { decision_id: id, reward: 0.6 }]);
    expect(posted.status).toBe(200);
    expect(posted.json.results.map((x: { outcome: string }) => x.outcome)).toEqual(['accepted', 'duplicate']);
    expect((await fbRoute())[arm]!.samples).toBe(before + 1);
    const metrics = (await s.admin('GET', '/metrics', undefined, null)).json as string;
    expect(metrics).toMatch(/envoy_bandit_feedback_total\{outcome="accepted"\} 1/);
    expect(metrics).toMatch(new RegExp(`envoy_bandit_rewards_total\\{route="fb",arm="${arm}",source="feedback"\\} 1`));

    // The decision log holds the decision with its propensity, then the feedback reward.
    await s.sidecar.stop(1_000);
    const lines = (await readFile(join(s.dir, 'decisions.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const mine = lines.filter((l) => l.id === id);
    expect(mine.map((l) => l.type)).toEqual(['decision', 'reward']);
    expect(mine[0]).toMatchObject({ route: 'fb', arm, reason: 'policy', replica: 'it-admin' });
    expect(mine[0].propensity).toBeGreaterThan(0);
    expect(mine[1]).toMatchObject({ reward: 0.6, source: 'feedback' });
    expect(lines.filter((l) => l.type === 'decision').length).toBeGreaterThanOrEqual(300);
  });
});
