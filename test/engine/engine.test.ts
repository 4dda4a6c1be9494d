import { describe, expect, it } from 'vitest';
import { EngineExtProcHandler } from '../../src/engine/extproc-bridge.js';
import type { Decision, Outcome } from '../../src/engine/engine.js';
import type { StreamContext } from '../../src/extproc/handler.js';
import { loadRewrites } from '../../src/rewrite/arm-rewrites.js';
import { headerList, testConfig, testEngine } from '../support/engine.js';

const THREE_ARMS = `
replica_id: r1
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    default_arm: model-a
    policy: { type: thompson, min_share: 0.01 }
    sticky: { header: x-session-id }
`;

const chatRequest = (extra: Record<string, string> = {}) => headerList({ ':path': '/v1/chat/completions', ':authority': 'x', ...extra });


/** An access-log entry for one decision: 200, ttfb 5 ms, 10 ms in all, with the given response trailers. */
function accessLogEntry(decisionId: string, responseTrailers = new Map<string, string>()) {
  return {
    status: 200,
    requestHeaders: new Map([['x-bandit-decision-id', decisionId]]),
    responseHeaders: new Map<string, string>(),
    responseTrailers,
    ttfbMs: 5,
    lastUpstreamRxMs: 9,
    lastDownstreamTxMs: 9,
    durationMs: 10,
    bodyBytes: 3,
    flags: [],
    details: '',
    intermediate: false,
  };
}
describe('Engine', () => {
  it('learns which arm succeeds and sends it most of the traffic (Thompson)', () => {
    const { engine } = testEngine(testConfig(THREE_ARMS), 42);
    const route = engine.route('chat')!;
    const successRate = [0.5, 0.9, 0.6];
    let seed = 7;
    const coin = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) {
      const d = engine.decide(route, null);
      if (i >= 2000) counts[d.arm]!++;
      engine.onResponse(d, coin() < successRate[d.arm]! ? 200 : 500, undefined, 10);
    }
    // Uniform would give model-b a third; Thompson with a 0.3+ gap concentrates far beyond that.
    expect(counts[1]! / 1000).toBeGreaterThan(0.8);
  });

  it('keeps a session on its arm and moves it only when the arm is quarantined', () => {
    const { engine } = testEngine(testConfig(THREE_ARMS), 3);
    const route = engine.route('chat')!;
    const first = engine.decide(route, chatRequest({ 'x-session-id': 's1' }));
    for (let i = 0; i < 20; i++) {
      const d = engine.decide(route, chatRequest({ 'x-session-id': 's1' }));
      expect(d.arm).toBe(first.arm);
      expect(d.reason).toBe('sticky');
    }
    engine.quarantineArm('chat', route.armNames[first.arm]!, 'manual');
    const moved = engine.decide(route, chatRequest({ 'x-session-id': 's1' }));
    expect(moved.arm).not.toBe(first.arm);
    expect(moved.reason).toBe('policy');
  });

  it('pause sends everything to the default arm; every arm quarantined falls back to it too', () => {
    const { engine } = testEngine(testConfig(THREE_ARMS));
    const route = engine.route('chat')!;
    engine.setMode('chat', 'paused');
    expect(engine.decide(route, null)).toMatchObject({ arm: 0, reason: 'paused' });
    engine.setMode('chat', 'active');
    for (const a of route.armNames) engine.quarantineArm('chat', a, 'manual');
    expect(engine.decide(route, null)).toMatchObject({ arm: 0, reason: 'quarantine' });
  });

  it('freeze keeps deciding but stops learning', () => {
    const { engine, state } = testEngine(testConfig(THREE_ARMS));
    const route = engine.route('chat')!;
    engine.setMode('chat', 'frozen');
    const d = engine.decide(route, null);
    const out = engine.onResponse(d, 200, undefined, 5);
    expect(out.recorded).toBe(false);
    expect(state.fleetTotal(0)).toBe(0);
  });

  it('ignores x-bandit-force-arm unless the route allows it', () => {
    const { engine } = testEngine(testConfig(THREE_ARMS));
    const route = engine.route('chat')!;
    for (let i = 0; i < 30; i++) expect(engine.decide(route, chatRequest({ 'x-bandit-force-arm': 'model-c' })).reason).not.toBe('forced');
    const allowed = testEngine(testConfig(THREE_ARMS.replace('sticky:', 'allow_force_arm: true\n    sticky:'))).engine;
    const d = allowed.decide(allowed.route('chat')!, chatRequest({ 'x-bandit-force-arm': 'model-c' }));
    expect(d).toMatchObject({ arm: 2, reason: 'forced' });
  });

  it('a reload keeps the statistics of arms that remain', () => {
    const { engine, state } = testEngine(testConfig(THREE_ARMS));
    const route = engine.route('chat')!;
    for (let i = 0; i < 50; i++) engine.onResponse(engine.decide(route, null), 200, undefined, 5);
    const before = engine.armSummary(route).find((s) => s.arm === 'model-b')!.stats.n;
    engine.reload(testConfig(THREE_ARMS.replace('- { name: model-a, cluster: model_a }', '- { name: model-d, cluster: model_d }').replace('default_arm: model-a', 'default_arm: model-d')));
    const after = engine.armSummary(engine.route('chat')!);
    expect(after.map((s) => s.arm)).toEqual(['model-d', 'model-b', 'model-c']);
    expect(after[0]!.stats.n).toBe(0);
    expect(after[1]!.stats.n).toBe(before);
    expect(state.routeIndex('chat')).toBe(0);
  });
});

describe('EngineExtProcHandler', () => {
  it('steers a matched request and overwrites a client-sent x-bandit-cluster', () => {
    const { engine } = testEngine(testConfig(THREE_ARMS));
    const h = new EngineExtProcHandler(engine);
    const stream: StreamContext<Decision> = { id: 1, decision: undefined };
    const reply = h.onRequestHeaders(chatRequest({ 'x-bandit-cluster': 'evil_cluster' }), stream)!;
    const cluster = reply.set.find(([k]) => k === 'x-bandit-cluster')![1];
    expect(['model_a', 'model_b', 'model_c']).toContain(cluster);
    expect(reply.clearRouteCache).toBe(true);
    const resp = h.onResponseHeaders(headerList({ ':status': '200' }), stream)!;
    expect(resp.set.map(([k]) => k)).toEqual(['x-bandit-arm', 'x-bandit-decision-id']);
  });

  it('passes an unmatched request untouched, but strips a client-sent steering header', () => {
    const { engine } = testEngine(testConfig(THREE_ARMS));
    const h = new EngineExtProcHandler(engine);
    const stream: StreamContext<Decision> = { id: 1, decision: undefined };
    expect(h.onRequestHeaders(headerList({ ':path': '/other' }), stream)).toBeNull();
    expect(h.onRequestHeaders(headerList({ ':path': '/other', 'x-bandit-cluster': 'model_c' }), stream)).toEqual({
      set: [],
      remove: ['x-bandit-cluster'],
      clearRouteCache: true,
    });
    expect(h.onResponseHeaders(headerList({ ':status': '200' }), stream)).toBeNull();
  });

  it('two-phase: a stream that ends before response headers (client cancel, Envoy failing open) yields no reward', () => {
    const { engine } = testEngine(testConfig(THREE_ARMS));
    const seen: Outcome[] = [];
    engine.observe({ onOutcome: (_d, o) => seen.push(o) });
    const h = new EngineExtProcHandler(engine);
    const s1 = { id: 1, decision: undefined } as StreamContext<Decision>;
    h.onRequestHeaders(chatRequest(), s1);
    h.onStreamEnd(s1, 'cancelled');
    expect(seen).toHaveLength(0);
    // Envoy's own 504 on a route timeout comes through the response-headers phase and fails the arm.
    const s2 = { id: 2, decision: undefined } as StreamContext<Decision>;
    h.onRequestHeaders(chatRequest(), s2);
    h.onResponseHeaders(headerList({ ':status': '504' }), s2);
    h.onStreamEnd(s2, 'ok');
    expect(seen.map((o) => o.failure)).toEqual(['status']);
  });

  it('access_log: the request carries the arm for Envoy to echo, and the logged outcome is applied once', () => {
    const { engine, state } = testEngine(testConfig(`outcomes: { source: access_log }\n${THREE_ARMS}`));
    const seen: Outcome[] = [];
    engine.observe({ onOutcome: (_d, o) => seen.push(o) });
    const h = new EngineExtProcHandler(engine);
    expect(h.requestOnly).toBe(true);
    const stream = { id: 1, decision: undefined } as StreamContext<Decision>;
    const reply = h.onRequestHeaders(chatRequest(), stream)!;
    const headers = Object.fromEntries(reply.set);
    expect(Object.keys(headers)).toEqual(['x-bandit-cluster', 'x-bandit-decision-id', 'x-bandit-arm']);
    expect(stream.decision).toBeUndefined(); // nothing waits on the ext_proc stream
    const entry = accessLogEntry(headers['x-bandit-decision-id']!, new Map([['grpc-status', '13']]));
    h.onAccessLog([entry, entry]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ failure: 'grpc_status', latencyMs: 5, reward: 0 });
    const ri = state.routeIndex('chat')!;
    const arm = engine.route('chat')!.armIndex.get(headers['x-bandit-arm']!)!;
    expect(state.fleet(ri, arm, { n: 0, sum: 0, sumSq: 0 }).n).toBe(1);
  });
  it('access_log: the chosen arm\'s rewrites (host, headers, body model) and the pin strip apply as in two-phase mode', async () => {
    const { engine } = testEngine(
      testConfig(`
replica_id: r1
outcomes: { source: access_log }
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    body_rewrite: {}
    arms:
      - { name: model-a, cluster: model_a, rewrite: { host: a.models.example.com, headers: { x-api-version: "2" }, model: llama-a } }
      - { name: model-b, cluster: model_b, rewrite: { host: b.models.example.com, model: llama-b } }
    policy: { type: thompson, min_share: 0.01 }
    sticky: { header: x-session-id }
`),
    );
    const seen: Outcome[] = [];
    engine.observe({ onOutcome: (_d, o) => seen.push(o) });
    const h = new EngineExtProcHandler(engine);
    const rw = await loadRewrites(engine.config);
    if (!rw.ok) throw new Error(JSON.stringify(rw.error));
    h.rewrites = rw.value;
    const stream = { id: 1, decision: undefined } as StreamContext<Decision>;
    const reply = h.onRequestHeaders(chatRequest({ 'x-session-id': 's1', 'x-bandit-pin': 'forged' }), stream)!;
    const headers = Object.fromEntries(reply.set);
    const arm = headers['x-bandit-arm']!;
    expect(headers[':authority']).toBe(arm === 'model-a' ? 'a.models.example.com' : 'b.models.example.com');
    if (arm === 'model-a') expect(headers['x-api-version']).toBe('2');
    expect(reply.remove).toContain('x-bandit-pin');
    const body = h.onRequestBody(Buffer.from(JSON.stringify({ model: 'client-choice', messages: [] })), true, stream)!;
    expect(JSON.parse(body.body.toString()).model).toBe(arm === 'model-a' ? 'llama-a' : 'llama-b');
    // A response-headers phase Envoy should not send here scores nothing: the access log does, once.
    expect(h.onResponseHeaders(headerList({ ':status': '200' }), stream)).toBeNull();
    h.onStreamEnd(stream, 'ok');
    expect(seen).toHaveLength(0);
    h.onAccessLog([accessLogEntry(headers['x-bandit-decision-id']!)]);
    expect(seen).toHaveLength(1);
  });
});

