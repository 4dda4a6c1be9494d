/**
 * Every outcome Envoy sees becomes a reward: real Envoy running
 * envoy/envoy-accesslog.yaml (request headers over ext_proc, outcomes over
 * Envoy's gRPC access log) in front of real backends that fail the ways model
 * servers do — a gRPC server answering `grpc-status: 13` in trailers, an SSE
 * stream cut mid-way, an upstream that refuses connections, one that accepts
 * and never answers.
 */
import * as grpc from '@grpc/grpc-js';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Decision, Outcome } from '../../src/engine/engine.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { ENVOY_ACCESSLOG_CONFIG, startEnvoy, type RunningEnvoy } from '../support/envoy.js';
import { freePort } from '../support/ports.js';
import { poll, sleep } from '../support/wait.js';

/** Route timeout for unary requests in this test (the shipped file says 60 s). */
const HUNG_TIMEOUT_S = 2;
const CONFIG = `
replica_id: outcomes-it
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
outcomes: { source: access_log }
routes:
  - name: grpc
    match: { path_prefix: /bandit.test. }
    arms:
      - { name: g-good, cluster: model_b }
      - { name: g-bad, cluster: model_c }
    policy: { type: static, weights: { g-good: 0.5, g-bad: 0.5 }, min_share: 0.05 }
    sticky: null
    reward: { weights: { success: 1, latency: 0, header: 0, cost: 0 } }
    guardrails: { window: 3s, min_samples: 20, cooldown: 60s, ewma: null, latency_p95: null }
  - name: sse
    match: { path_prefix: /v1/stream }
    arms: [{ name: sse-a, cluster: model_a }]
    sticky: null
    reward: { latency: { slo: 5s, measure: total } }
    guardrails: null
  - name: refuse
    match: { path_prefix: /v1/refuse }
    arms:
      - { name: r-ok, cluster: model_a }
      - { name: r-down, cluster: model_d }
    policy: { type: static, weights: { r-ok: 0.5, r-down: 0.5 } }
    sticky: null
    guardrails: null
  - name: hung
    match: { path_prefix: /v1/hung }
    arms:
      - { name: h-ok, cluster: model_a }
      - { name: h-hung, cluster: model_e }
    policy: { type: thompson, min_share: 0.01 }
    sticky: null
    reward: { weights: { success: 1, latency: 0, header: 0, cost: 0 } }
    guardrails: null
`;

// ---- backends -------------------------------------------------------------

const GEN_PATH = '/bandit.test.Gen/Generate';
const identity = (b: Buffer): Buffer => b;
const GEN_SERVICE: grpc.ServiceDefinition = {
  Generate: {
    path: GEN_PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** A grpc-js server-streaming "model": one token, then OK — or, when failing, one token then INTERNAL in the trailers. */
async function startGrpcModel(): Promise<{ port: number; failing: boolean; stop(): Promise<void> }> {
  const server = new grpc.Server();
  const state = { failing: false };
  server.addService(GEN_SERVICE, {
    Generate(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      call.write(Buffer.from('tok'));
      if (state.failing) call.emit('error', { code: grpc.status.INTERNAL, details: 'model crashed' });
      else call.end();
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return {
    port,
    get failing() {
      return state.failing;
    },
    set failing(v: boolean) {
      state.failing = v;
    },
    stop: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
}

/** HTTP/1.1: `/v1/stream/cut` sends 3 SSE events 60 ms apart then drops the connection; anything else answers 200. */
async function startHttpModel(): Promise<{ port: number; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    if (req.url?.startsWith('/v1/stream/cut')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      const t = setInterval(() => {
        res.write(`data: {"token":${n}}\n\n`);
        if (++n === 3) {
          clearInterval(t);
          setTimeout(() => req.socket.destroy(), 60);
        }
      }, 60);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, stop: () => closeServer(server) };
}

/** Accepts connections and never answers. */
async function startHungModel(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer(() => {});
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () => {
      for (const s of sockets) s.destroy();
      return closeServer(server);
    },
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- untyped YAML tree */
/** Adds clusters model_d and model_e, makes model_b/model_c HTTP/2 (gRPC), and shortens the unary route timeout. */
function testClusters(doc: any): void {
  const clusters: any[] = doc.static_resources.clusters;
  const a = clusters.find((c) => c.name === 'model_a');
  for (const name of ['model_d', 'model_e']) clusters.push({ ...structuredClone(a), name, load_assignment: { ...structuredClone(a.load_assignment), cluster_name: name } });
  for (const c of clusters.filter((c) => c.name === 'model_b' || c.name === 'model_c')) {
    c.typed_extension_protocol_options = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  for (const r of hcm.route_config.virtual_hosts[0].routes) {
    if (r.route.timeout === '60s') r.route = { ...r.route, timeout: `${HUNG_TIMEOUT_S}s`, retry_policy: { ...r.route.retry_policy, per_try_timeout: `${HUNG_TIMEOUT_S}s` } };
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const closeServer = (s: Server) => new Promise<void>((r) => s.close(() => r()));

// ---- clients --------------------------------------------------------------

function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; arm: string | undefined; aborted: boolean }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let aborted = false;
      res.on('aborted', () => (aborted = true));
      res.on('error', () => (aborted = true));
      res.resume();
      res.on('close', () => resolve({ status: res.statusCode ?? 0, arm: res.headers['x-bandit-arm'] as string | undefined, aborted }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error('client timeout')));
    req.on('error', () => resolve({ status: 0, arm: undefined, aborted: true }));
    req.end();
  });
}

// ---------------------------------------------------------------------------

describe('outcomes from Envoy’s access log (envoy/envoy-accesslog.yaml)', () => {
  let sidecar: Sidecar;
  let envoy: RunningEnvoy;
  let good: Awaited<ReturnType<typeof startGrpcModel>>;
  let bad: Awaited<ReturnType<typeof startGrpcModel>>;
  let http: Awaited<ReturnType<typeof startHttpModel>>;
  let hung: Awaited<ReturnType<typeof startHungModel>>;
  let grpcClient: grpc.Client;
  const outcomes: Array<{ route: string; arm: string; o: Outcome }> = [];

  const of = (route: string, arm?: string) => outcomes.filter((x) => x.route === route && (arm === undefined || x.arm === arm));

  beforeAll(async () => {
    [good, bad, http, hung] = await Promise.all([startGrpcModel(), startGrpcModel(), startHttpModel(), startHungModel()]);
    const refusedPort = await freePort(); // nothing listens here
    const cfg = parseConfig(CONFIG, { env: {} });
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
    sidecar = await Sidecar.create({ config: cfg.value, logger: pino({ level: 'silent' }), seed: 3, env: {} });
    sidecar.engine.observe({
      onOutcome: (d: Decision, o: Outcome) => outcomes.push({ route: d.route.name, arm: d.route.armNames[d.arm]!, o }),
    });
    await sidecar.start();
    const extPort = Number(sidecar.addresses.extProc.slice(sidecar.addresses.extProc.lastIndexOf(':') + 1));
    envoy = await startEnvoy({
      configPath: ENVOY_ACCESSLOG_CONFIG,
      extProc: { host: '127.0.0.1', port: extPort },
      clusters: { model_a: http.port, model_b: good.port, model_c: bad.port, model_d: refusedPort, model_e: hung.port },
      mutate: testClusters,
    });
    const Client = grpc.makeGenericClientConstructor(GEN_SERVICE, 'Gen');
    grpcClient = new Client(`127.0.0.1:${envoy.port}`, grpc.credentials.createInsecure());
  }, 60_000);

  afterAll(async () => {
    grpcClient?.close();
    await envoy?.stop();
    await sidecar?.stop(1_000);
    await Promise.all([good?.stop(), bad?.stop(), http?.stop(), hung?.stop()]);
  });

  function generate(): Promise<{ code: number; arm: string | undefined }> {
    return new Promise((resolve) => {
      let arm: string | undefined;
      const call = (grpcClient as unknown as { makeServerStreamRequest: grpc.Client['makeServerStreamRequest'] }).makeServerStreamRequest(
        GEN_PATH,
        identity,
        identity,
        Buffer.from('prompt'),
      );
      call.on('metadata', (md: grpc.Metadata) => (arm = md.get('x-bandit-arm')[0] as string | undefined));
      call.on('data', () => {});
      call.on('error', () => {});
      call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, arm }));
    });
  }

  it('a gRPC backend that starts failing with grpc-status 13 in its trailers is learned as failing and quarantined', async () => {
    // Healthy first: both arms succeed (HTTP 200, grpc-status 0 in trailers).
    const healthy: Array<{ code: number; arm: string | undefined }> = [];
    for (let i = 0; i < 4; i++) healthy.push(...(await Promise.all(Array.from({ length: 10 }, () => generate()))));
    // Calls Envoy failed open on (the sidecar slower than message_timeout on a loaded machine) carry no decision and log nothing.
    const decided = healthy.filter((c) => c.arm !== undefined).length;
    expect(decided).toBeGreaterThan(20);
    expect(await poll(() => of('grpc').length >= decided, 10_000), 'outcomes of the healthy phase arrived').toBe(true);
    expect(of('grpc', 'g-bad').filter((x) => !(x.o.failure === '' && x.o.exchange.grpcStatus === 0)).map((x) => x.o.exchange)).toEqual([]);
    const calls = await Promise.all([generate(), generate()]);
    expect(calls.map((c) => c.arm).every((a) => a === 'g-good' || a === 'g-bad')).toBe(true);

    bad.failing = true;
    const failedAt = Date.now();
    const flagged = () => sidecar.state.activeFlags('grpc', 'g-bad', Date.now()).length > 0;
    // Batches of 10 concurrent calls, so the guardrail window fills even on a slow machine; at most 40 batches.
    for (let i = 0; i < 40 && !flagged(); i++) await Promise.all(Array.from({ length: 10 }, () => generate()));
    expect(await poll(flagged, 10_000), 'g-bad quarantined').toBe(true);
    const failures = of('grpc', 'g-bad').filter((x) => x.o.failure !== '');
    expect(failures.length).toBeGreaterThan(0);
    // The HTTP status was 200 throughout: only the trailers said INTERNAL.
    expect(failures[0]!.o.exchange).toMatchObject({ status: 200, grpcStatus: 13, grpcMessage: 'model crashed', end: 'complete' });
    expect(failures.every((x) => x.o.failure === 'grpc_status' && x.o.reward === 0)).toBe(true);
    expect(of('grpc', 'g-good').every((x) => x.o.failure === '')).toBe(true);
    // Learned: g-bad's mean reward fell below g-good's.
    const summary = sidecar.engine.armSummary(sidecar.engine.route('grpc')!);
    expect(summary[1]!.mean).toBeLessThan(summary[0]!.mean);
    // Quarantined: new calls go to g-good only.
    const after = await Promise.all(Array.from({ length: 20 }, () => generate()));
    expect(after.filter((c) => c.arm === 'g-bad')).toHaveLength(0);
    expect(after.every((c) => c.code === grpc.status.OK)).toBe(true);
    console.log(`[outcomes/envoy] gRPC INTERNAL in trailers: quarantined ${Date.now() - failedAt} ms after the switch (${failures.length} failures seen)`);
  }, 60_000);

  it('an SSE stream reset mid-way is scored as a failure with its total duration', async () => {
    const before = of('sse').length;
    const res = await httpGet(envoy.port, '/v1/stream/cut', { accept: 'text/event-stream' });
    expect(res.status).toBe(200);
    expect(res.arm).toBe('sse-a');
    expect(res.aborted).toBe(true);
    expect(await poll(() => of('sse').length > before, 10_000)).toBe(true);
    const x = of('sse').at(-1)!.o;
    expect(x.failure).toBe('reset');
    expect(x.reward).toBe(0);
    expect(x.exchange.end).toBe('reset');
    // Three events 60 ms apart, then 60 ms more before the cut: the total covers the stream, not its first byte.
    expect(x.exchange.totalMs).toBeGreaterThanOrEqual(200);
    expect(x.exchange.ttfbMs!).toBeLessThan(x.exchange.totalMs - 100);
    expect(x.exchange.bytes!).toBeGreaterThan(0);
    expect(x.latencyMs).toBe(x.exchange.totalMs); // reward.latency.measure: total
  });

  it('an upstream that refuses connections counts against its arm', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, () => httpGet(envoy.port, '/v1/refuse')));
    expect(results.some((r) => r.status === 503)).toBe(true);
    expect(await poll(() => of('refuse').length >= 40, 10_000)).toBe(true);
    const down = of('refuse', 'r-down');
    expect(down.length).toBeGreaterThan(5);
    expect(down.every((x) => x.o.failure === 'connect_failure' && x.o.reward === 0 && x.o.recorded)).toBe(true);
    expect(down[0]!.o.exchange.flags).toContain('UF');
    expect(of('refuse', 'r-ok').every((x) => x.o.failure === '')).toBe(true);
    const s = sidecar.engine.armSummary(sidecar.engine.route('refuse')!);
    expect(s[1]!.stats.n).toBe(down.length);
    expect(s[1]!.stats.sum).toBe(0);
  });

  it('a hung backend (accepts, never answers) loses its traffic through the route timeout outcome', async () => {
    const waves: Array<Array<{ arm: string | undefined; status: number }>> = [];
    for (let w = 0; w < 4; w++) {
      const wave = await Promise.all(Array.from({ length: 20 }, () => httpGet(envoy.port, '/v1/hung')));
      waves.push(wave);
      await sleep(150); // the access-log flush
    }
    const hungIn = (w: number) => waves[w]!.filter((r) => r.arm === 'h-hung').length;
    const timeouts = of('hung', 'h-hung');
    expect(timeouts.length).toBeGreaterThan(0);
    expect(timeouts.every((x) => x.o.failure === 'timeout' && x.o.exchange.status === 504 && x.o.exchange.flags.includes('UT'))).toBe(true);
    expect(timeouts[0]!.o.exchange.totalMs).toBeGreaterThanOrEqual(HUNG_TIMEOUT_S * 1000 - 50);
    expect(hungIn(0)).toBeGreaterThan(3);
    expect(hungIn(3)).toBeLessThanOrEqual(2);
    console.log(`[outcomes/envoy] hung arm share by wave of 20: ${waves.map((_, w) => hungIn(w)).join(', ')}`);
  }, 30_000);
});

describe('outcomes from the two-phase protocol (envoy/envoy.yaml): Envoy’s own replies are scored too', () => {
  let sidecar: Sidecar;
  let envoy: RunningEnvoy;
  let http: Awaited<ReturnType<typeof startHttpModel>>;
  let hung: Awaited<ReturnType<typeof startHungModel>>;
  const outcomes: Array<{ route: string; arm: string; o: Outcome }> = [];

  beforeAll(async () => {
    [http, hung] = await Promise.all([startHttpModel(), startHungModel()]);
    const refusedPort = await freePort();
    const twoPhase = CONFIG.replace('outcomes: { source: access_log }', 'outcomes: { source: response_headers }');
    const cfg = parseConfig(twoPhase, { env: {} });
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
    sidecar = await Sidecar.create({ config: cfg.value, logger: pino({ level: 'silent' }), seed: 3, env: {} });
    sidecar.engine.observe({ onOutcome: (d: Decision, o: Outcome) => outcomes.push({ route: d.route.name, arm: d.route.armNames[d.arm]!, o }) });
    await sidecar.start();
    const extPort = Number(sidecar.addresses.extProc.slice(sidecar.addresses.extProc.lastIndexOf(':') + 1));
    envoy = await startEnvoy({
      extProc: { host: '127.0.0.1', port: extPort },
      clusters: { model_a: http.port, model_b: refusedPort, model_c: refusedPort, model_d: refusedPort, model_e: hung.port },
      mutate: testClusters,
    });
  }, 60_000);

  afterAll(async () => {
    await envoy?.stop();
    await sidecar?.stop(1_000);
    await Promise.all([http?.stop(), hung?.stop()]);
  });

  it('a refused connection (503) and a route timeout on a hung backend (504) count against their arms', async () => {
    const results = await Promise.all([...Array.from({ length: 20 }, () => httpGet(envoy.port, '/v1/refuse')), ...Array.from({ length: 10 }, () => httpGet(envoy.port, '/v1/hung'))]);
    expect(results.filter((r) => r.status === 503).every((r) => r.arm === 'r-down')).toBe(true);
    const down = outcomes.filter((x) => x.arm === 'r-down');
    const hungs = outcomes.filter((x) => x.arm === 'h-hung');
    expect(down.length).toBeGreaterThan(0);
    expect(hungs.length).toBeGreaterThan(0);
    expect(down.every((x) => x.o.status === 503 && x.o.failure === 'status' && x.o.recorded)).toBe(true);
    expect(hungs.every((x) => x.o.status === 504 && x.o.failure === 'status' && x.o.latencyMs >= HUNG_TIMEOUT_S * 1000 - 50)).toBe(true);
    expect(outcomes.filter((x) => x.arm === 'r-ok' || x.arm === 'h-ok').every((x) => x.o.failure === '')).toBe(true);
  }, 30_000);
});
