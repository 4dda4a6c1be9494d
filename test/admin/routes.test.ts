import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminServer } from '../../src/admin/http.js';
import { feedbackRoute, reloadRoute, routeAdminRoutes, type ReloadOutcome } from '../../src/admin/routes.js';
import { ArmReadingsBoard } from '../../src/admin/route-info.js';
import { ConfigRejection } from '../../src/config/issues.js';
import { FeedbackManager } from '../../src/reward/feedback.js';
import { err, ok } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/logger.js';
import { makeConfig, makeEngine, metricValue, type Rig } from '../support/admin-fixtures.js';

const TOKEN = 'admin-token-0123456789';

interface Server {
  rig: Rig;
  fm: FeedbackManager;
  admin: AdminServer;
  base: string;
  logs: Array<Record<string, unknown>>;
  reloads: ReloadOutcome[];
}

async function startServer(token: string | null): Promise<Server> {
  const rig = makeEngine(makeConfig([{ name: 'chat', arms: ['a', 'b', 'c'], feedback: '{ wait: 30s, default: null }' }, { name: 'plain' }]));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger('info', sink);
  const fm = new FeedbackManager({ engine: rig.engine, clock: rig.clock, metrics: rig.metrics, logger });
  rig.engine.observe(fm);
  const admin = new AdminServer({ address: '127.0.0.1:0', logger, registry: rig.metrics.registry, token, readiness: () => ({ ready: true, checks: {} }) });
  const readings = new ArmReadingsBoard();
  readings.add((route, arm) => (route === 'chat' && arm === 'a' ? { error_rate: 0.5 } : null));
  for (const r of routeAdminRoutes(rig.engine, rig.metrics, logger, null, readings)) admin.add(r);
  admin.add(feedbackRoute(fm, logger));
  const reloads: ReloadOutcome[] = [
    err(new ConfigRejection([{ path: 'routes[0].arms[1].cluster', message: 'required' }, { path: 'routes[1].arms[0].rewrite.secret_headers.x-key.file', message: '/run/key: cannot read: file not found', code: 'EB_CONFIG_READ' }], 'config rejected (2 issues)')),
    ok({ routes: ['chat', 'plain'], restart_needed: [] }),
    ok({ routes: ['chat', 'plain'], restart_needed: ['gossip'] }),
  ];
  let n = 0;
  admin.add(reloadRoute(async () => reloads[n++ % reloads.length]!, logger));
  const { port } = await admin.start();
  return { rig, fm, admin, base: `http://127.0.0.1:${port}`, logs, reloads };
}

async function call(s: Server, method: string, path: string, opts: { body?: unknown; raw?: string; token?: string | null; operator?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.operator !== undefined) headers['x-bandit-operator'] = opts.operator;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${s.base}${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json: json as Record<string, unknown> };
}

let open: Server;
let locked: Server;
beforeAll(async () => {
  open = await startServer(null);
  locked = await startServer(TOKEN);
});
afterAll(async () => {
  await open?.admin.close();
  await locked?.admin.close();
});

type Row = { name: string; method: string; path: string; body?: unknown; raw?: string; status: number; code?: string };

const MUTATIONS: Row[] = [
  { name: 'pause', method: 'POST', path: '/v1/routes/chat/pause', status: 200 },
  { name: 'freeze', method: 'POST', path: '/v1/routes/chat/freeze', status: 200 },
  { name: 'resume', method: 'POST', path: '/v1/routes/chat/resume', status: 200 },
  { name: 'reset', method: 'POST', path: '/v1/routes/chat/reset', status: 200 },
  { name: 'quarantine', method: 'POST', path: '/v1/routes/chat/arms/b/quarantine', status: 200 },
  { name: 'release', method: 'POST', path: '/v1/routes/chat/arms/b/release', status: 200 },
  { name: 'feedback (one item)', method: 'POST', path: '/v1/feedback', body: { decision_id: 'x', reward: 1 }, status: 200 },
  { name: 'reload (rejected config)', method: 'POST', path: '/v1/reload', status: 400, code: 'EB_CONFIG_INVALID' },
];

const BAD: Row[] = [
  { name: 'unknown route (pause)', method: 'POST', path: '/v1/routes/nope/pause', status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'unknown route (reset)', method: 'POST', path: '/v1/routes/nope/reset', status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'unknown route (arm)', method: 'POST', path: '/v1/routes/nope/arms/a/quarantine', status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'unknown arm', method: 'POST', path: '/v1/routes/chat/arms/zzz/quarantine', status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'unknown arm (release)', method: 'POST', path: '/v1/routes/chat/arms/zzz/release', status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'unknown action', method: 'POST', path: '/v1/routes/chat/explode', status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'GET on a mutation', method: 'GET', path: '/v1/routes/chat/pause', status: 405, code: 'EB_ADMIN_METHOD_NOT_ALLOWED' },
  { name: 'DELETE on routes', method: 'DELETE', path: '/v1/routes', status: 405, code: 'EB_ADMIN_METHOD_NOT_ALLOWED' },
  { name: 'GET on feedback', method: 'GET', path: '/v1/feedback', status: 405, code: 'EB_ADMIN_METHOD_NOT_ALLOWED' },
  { name: 'feedback: bad JSON', method: 'POST', path: '/v1/feedback', raw: '{"decision_id": ', status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'feedback: no body', method: 'POST', path: '/v1/feedback', status: 400, code: 'EB_FEEDBACK_INVALID' },
  { name: 'feedback: a number', method: 'POST', path: '/v1/feedback', raw: '42', status: 400, code: 'EB_FEEDBACK_INVALID' },
  { name: 'feedback: empty array', method: 'POST', path: '/v1/feedback', body: [], status: 400, code: 'EB_FEEDBACK_INVALID' },
  { name: 'feedback: too many items', method: 'POST', path: '/v1/feedback', body: Array.from({ length: 1001 }, () => ({})), status: 413, code: 'EB_FEEDBACK_INVALID' },
  { name: 'pause with a junk body', method: 'POST', path: '/v1/routes/chat/pause', raw: 'not json', status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
];

describe('admin API: every endpoint, good and bad input, with and without the token', () => {
  it.each(MUTATIONS)('$name: 401 without the token when one is configured', async (row) => {
    const before = locked.logs.length;
    for (const token of [null, 'wrong-token-0000000000']) {
      const r = await call(locked, row.method, row.path, { body: row.body, token });
      expect(r.status).toBe(401);
      expect((r.json.error as { code: string }).code).toBe('EB_ADMIN_UNAUTHORIZED');
    }
    // Refused before the handler: nothing was mutated or audited as done.
    expect(locked.rig.engine.route('chat')!.mode).toBe('active');
    expect(locked.logs.slice(before).filter((l) => l.result === 'ok')).toHaveLength(0);
  });

  it.each(MUTATIONS)('$name: answers $status with the token', async (row) => {
    const r = await call(locked, row.method, row.path, { body: row.body, token: TOKEN });
    expect(r.status).toBe(row.status);
    if (row.code) expect((r.json.error as { code: string }).code).toBe(row.code);
  });

  it.each(MUTATIONS)('$name: answers $status on a server without a token', async (row) => {
    const r = await call(open, row.method, row.path, { body: row.body });
    expect(r.status).toBe(row.status);
  });

  it.each(BAD)('$name → $status $code, JSON, never a 500', async (row) => {
    for (const [s, token] of [[open, null], [locked, TOKEN]] as const) {
      const r = await call(s, row.method, row.path, { body: row.body, raw: row.raw, token });
      expect(r.status).toBe(row.status);
      expect(r.json.error).toMatchObject({ code: row.code, message: expect.any(String) });
    }
  });

  it('GET /v1/routes needs no token and explains every arm', async () => {
    const s = locked;
    const route = s.rig.engine.route('plain')!;
    for (let i = 0; i < 10; i++) s.rig.engine.onResponse(s.rig.engine.decide(route, null), 200, undefined, 1);
    const r = await call(s, 'GET', '/v1/routes');
    expect(r.status).toBe(200);
    const routes = r.json.routes as Array<Record<string, unknown>>;
    expect(routes.map((x) => x.name)).toEqual(['chat', 'plain']);
    const plain = routes[1]!;
    expect(plain).toMatchObject({ mode: 'active', default_arm: 'a', feedback: null, policy: { type: 'thompson', min_share: 0.01, drift: { mode: 'none' } } });
    const arms = plain.arms as Array<Record<string, unknown>>;
    expect(arms.map((a) => a.name)).toEqual(['a', 'b']);
    expect(arms.reduce((acc, a) => acc + (a.samples as number), 0)).toBe(10);
    expect(arms.reduce((acc, a) => acc + (a.share as number), 0)).toBeCloseTo(1, 6);
    for (const a of arms) {
      expect(a).toMatchObject({ cluster: `c_${a.name as string}`, cost: 0, state: 'active', quarantine: null, params: { alpha: expect.any(Number), beta: expect.any(Number) } });
      expect(a.mean).toBeGreaterThan(0);
    }
    const chatA = ((routes[0]!.arms as Array<Record<string, unknown>>)[0]!);
    expect(chatA.readings).toEqual({ error_rate: 0.5 });
    expect(routes[0]!.feedback).toEqual({ wait_ms: 30_000, default: null });
  });

  it('pause sends all traffic to the default arm; resume restores the policy', async () => {
    const s = open;
    let r = await call(s, 'POST', '/v1/routes/plain/pause');
    expect(r.json).toMatchObject({ route: 'plain', mode: 'paused', previous_mode: 'active' });
    const view = (await call(s, 'GET', '/v1/routes')).json.routes as Array<{ name: string; mode: string; arms: Array<{ name: string; state: string; share: number }> }>;
    const plain = view.find((x) => x.name === 'plain')!;
    expect(plain.mode).toBe('paused');
    expect(plain.arms.map((a) => [a.state, a.share])).toEqual([['paused', 1], ['paused', 0]]);
    const route = s.rig.engine.route('plain')!;
    for (let i = 0; i < 20; i++) expect(s.rig.engine.decide(route, null)).toMatchObject({ arm: 0, reason: 'paused' });
    r = await call(s, 'POST', '/v1/routes/plain/resume');
    expect(r.json).toMatchObject({ mode: 'active', previous_mode: 'paused' });
    expect(s.rig.engine.decide(route, null).reason).toBe('policy');
    expect(await metricValue(s.rig.metrics, 'envoy_bandit_arm_state', { route: 'plain', arm: 'b', state: 'active' })).toBe(1);
  });

  it('freeze stops learning; reset forgets', async () => {
    const s = open;
    const route = s.rig.engine.route('plain')!;
    for (let i = 0; i < 5; i++) s.rig.engine.onResponse(s.rig.engine.decide(route, null), 200, undefined, 1);
    const n = () => s.rig.engine.armSummary(route).reduce((acc, a) => acc + a.stats.n, 0);
    const before = n();
    expect(before).toBeGreaterThanOrEqual(5);
    expect((await call(s, 'POST', '/v1/routes/plain/freeze')).json).toMatchObject({ mode: 'frozen' });
    for (let i = 0; i < 5; i++) s.rig.engine.onResponse(s.rig.engine.decide(route, null), 200, undefined, 1);
    expect(n()).toBe(before);
    expect((await call(s, 'POST', '/v1/routes/plain/resume')).json).toMatchObject({ mode: 'active', previous_mode: 'frozen' });
    expect((await call(s, 'POST', '/v1/routes/plain/reset')).json).toMatchObject({ action: 'reset', mode: 'active' });
    expect(n()).toBe(0);
  });

  it('quarantine takes an arm out with the manual rule; release brings it back', async () => {
    const s = open;
    let r = await call(s, 'POST', '/v1/routes/chat/arms/c/quarantine');
    expect(r.json).toMatchObject({ route: 'chat', arm: 'c', state: 'quarantined' });
    const view = (await call(s, 'GET', '/v1/routes')).json.routes as Array<{ name: string; arms: Array<Record<string, unknown>> }>;
    const c = view.find((x) => x.name === 'chat')!.arms.find((a) => a.name === 'c')!;
    expect(c).toMatchObject({ state: 'quarantined', share: 0, quarantine: [{ rule: 'manual', replica: 'r1', until: null }] });
    const route = s.rig.engine.route('chat')!;
    for (let i = 0; i < 50; i++) expect(s.rig.engine.decide(route, null).arm).not.toBe(2);
    r = await call(s, 'POST', '/v1/routes/chat/arms/c/release');
    expect(r.json).toMatchObject({ state: 'active' });
  });

  it('each operator action is a fleet record with who, what, when and which replica, listed by GET /v1/audit', async () => {
    const s = open;
    const r = await call(s, 'POST', '/v1/routes/plain/freeze', { operator: 'alice@oncall' });
    expect(r.json).toMatchObject({ scope: 'fleet', replica: 'r1', who: 'alice@oncall', mode: 'frozen' });
    await call(s, 'POST', '/v1/routes/chat/arms/b/quarantine', { operator: 'bob' });
    await call(s, 'POST', '/v1/routes/chat/arms/b/release');
    await call(s, 'POST', '/v1/routes/plain/resume', { operator: 'alice@oncall' });
    const audit = (await call(s, 'GET', '/v1/audit')).json as { replica: string; records: Array<Record<string, unknown>>; events: Array<Record<string, unknown>> };
    expect(audit.replica).toBe('r1');
    expect(audit.records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'mode', route: 'plain', mode: 'active', who: 'alice@oncall', replica: 'r1', at: expect.any(Number), stamp: expect.stringMatching(/@r1$/) }),
        expect.objectContaining({ kind: 'manual', route: 'chat', arm: 'b', state: 'released', who: 'anonymous', replica: 'r1' }),
      ]),
    );
    expect(audit.events.slice(-4).map((e) => [e.who, e.action, e.route, e.result])).toEqual([
      ['alice@oncall', 'freeze', 'plain', 'ok'],
      ['bob', 'quarantine', 'chat', 'ok'],
      ['anonymous', 'release', 'chat', 'ok'],
      ['alice@oncall', 'resume', 'plain', 'ok'],
    ]);
    expect(s.logs.some((l) => l.audit === true && l.who === 'bob' && l.action === 'quarantine' && l.replica === 'r1' && typeof l.time === 'string')).toBe(true);
  });

  it('a malformed operator header is refused with a coded 400 and changes nothing', async () => {
    const s = open;
    const r = await call(s, 'POST', '/v1/routes/plain/pause', { operator: 'x'.repeat(200) });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: { code: 'EB_ADMIN_BAD_REQUEST', message: expect.stringMatching(/x-bandit-operator/) } });
    expect(s.rig.engine.route('plain')!.mode).toBe('active');
  });

  it('POST /v1/feedback answers each item of an array', async () => {
    const s = open;
    const route = s.rig.engine.route('chat')!;
    const d = s.rig.engine.decide(route, null);
    s.rig.engine.onResponse(d, 200, undefined, 1);
    const r = await call(s, 'POST', '/v1/feedback', {
      body: [
        { decision_id: d.id, reward: 1 },
        { decision_id: d.id, reward: 1 },
        { decision_id: d.id, reward: 2 },
        { decision_id: 'forged.id', reward: 1 },
      ],
    });
    expect(r.status).toBe(200);
    expect((r.json.results as Array<{ outcome: string }>).map((x) => x.outcome)).toEqual(['accepted', 'duplicate', 'invalid', 'invalid']);
    expect(r.json.counts).toEqual({ accepted: 1, duplicate: 1, expired: 0, invalid: 2, unavailable: 0 });
    const single = await call(s, 'POST', '/v1/feedback', { body: { decision_id: d.id, reward: 0.5 } });
    expect(single.json).toMatchObject({ decision_id: d.id, outcome: 'duplicate' });
  });

  it('reload: a bad config answers 400 with every issue path (a file issue with its code); a good one 200', async () => {
    const s = open;
    // The MUTATIONS rows already consumed reloads on this server; go round the three answers to the rejected one.
    let first = await call(s, 'POST', '/v1/reload');
    for (let i = 0; i < 2 && first.status !== 400; i++) first = await call(s, 'POST', '/v1/reload');
    expect(first.status).toBe(400);
    const err = first.json.error as { code: string; issues: Array<{ path: string; message: string; code?: string }> };
    expect(err.code).toBe('EB_CONFIG_INVALID');
    expect(err.issues).toEqual([
      { path: 'routes[0].arms[1].cluster', message: 'required' },
      { path: 'routes[1].arms[0].rewrite.secret_headers.x-key.file', message: '/run/key: cannot read: file not found', code: 'EB_CONFIG_READ' },
    ]);
    const good = await call(s, 'POST', '/v1/reload');
    expect(good).toEqual(expect.objectContaining({ status: 200, json: { status: 'reloaded', routes: ['chat', 'plain'] } }));
    // Sections a reload does not apply are named in the answer.
    const pending = await call(s, 'POST', '/v1/reload');
    expect(pending).toMatchObject({ status: 200, json: { status: 'reloaded', routes: ['chat', 'plain'], restart_needed: ['gossip'] } });
  });

  it('every mutation is logged once with who, what and the result', async () => {
    const s = open;
    const from = s.logs.length;
    await call(s, 'POST', '/v1/routes/plain/pause');
    await call(s, 'POST', '/v1/routes/nope/pause');
    await call(s, 'POST', '/v1/routes/chat/arms/zzz/release');
    await call(s, 'POST', '/v1/routes/plain/resume');
    const audit = s.logs.slice(from).filter((l) => l.audit === true);
    expect(audit.map((l) => [l.action, l.route, l.result])).toEqual([
      ['pause', 'plain', 'ok'],
      ['pause', 'nope', 'not_found'],
      ['release', 'chat', 'not_found'],
      ['resume', 'plain', 'ok'],
    ]);
    for (const l of audit) {
      expect(l.caller).toMatch(/127\.0\.0\.1/);
      expect(typeof l.time).toBe('string');
    }
  });
});
