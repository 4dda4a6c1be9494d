/**
 * Guardrails end to end: real Envoy (envoy/envoy.yaml) → the in-process
 * Sidecar (ext_proc + engine + guardrails component) → two real backends whose
 * behaviour is switched mid-run under ~200 rps of open-loop load.
 *
 * The route uses a static 50/50 policy so that every shift of traffic seen
 * here is the guardrails' doing, not the bandit's learning.
 * Figures are printed (wall clock), never asserted on speed.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { startBackend, type Backend } from '../support/backend.js';
import { startEnvoy, type RunningEnvoy } from '../support/envoy.js';
import { PacedLoad, type Sample } from '../support/paced-load.js';
import { poll, sleep } from '../support/wait.js';

const ROUTE = 'chat';
const RPS = 200;
const COOLDOWN_MS = 3000;
const CONFIG = `
replica_id: guard-it
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
routes:
  - name: ${ROUTE}
    match: { path_prefix: /v1/chat }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
    default_arm: model-a
    policy: { type: static, weights: { model-a: 0.5, model-b: 0.5 }, min_share: 0.05 }
    sticky: null
    reward: { weights: { success: 1, latency: 0, header: 0, cost: 0 } }
    guardrails: { window: 4s, min_samples: 30, cooldown: 3s, latency_p95: { max: 2s } }
`;


/** Polls `cond` every 20 ms for at most `timeoutMs`; returns whether it became true. */
const errRate = (xs: Sample[]) => (xs.length ? xs.filter((s) => s.status >= 500 || s.status === 0).length / xs.length : Number.NaN);
const share = (xs: Sample[], arm: string) => (xs.length ? xs.filter((s) => s.arm === arm).length / xs.length : Number.NaN);

describe('guardrails behind a real Envoy', () => {
  let a: Backend;
  let b: Backend;
  let sidecar: Sidecar;
  let envoy: RunningEnvoy;
  let load: PacedLoad;
  const logs: Array<{ msg: string; [k: string]: unknown }> = [];

  const flagsOnB = () => sidecar.state.activeFlags(ROUTE, 'model-b', Date.now());
  const route = () => sidecar.engine.route(ROUTE)!;

  beforeAll(async () => {
    a = await startBackend({ name: 'model_a', seed: 1, latencyMs: 50 });
    b = await startBackend({ name: 'model_b', seed: 2, latencyMs: 50 });
    const cfg = parseConfig(CONFIG, { env: {} });
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
    const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as { msg: string }) });
    sidecar = await Sidecar.create({ config: cfg.value, logger, seed: 5, env: {} });
    await sidecar.start();
    const extPort = Number(sidecar.addresses.extProc.slice(sidecar.addresses.extProc.lastIndexOf(':') + 1));
    envoy = await startEnvoy({ extProc: { host: '127.0.0.1', port: extPort }, clusters: { model_a: a.port, model_b: b.port } });
    // Bounded: at most 120 s of load at 200 rps.
    load = new PacedLoad(`http://127.0.0.1:${envoy.port}/v1/chat/completions`, RPS, RPS * 120);
    load.start();
    // Warm-up: the baselines learn from buckets leaving the 4 s window (needs 4 s + 5 buckets before the sequential tests arm).
    await sleep(11_000);
  }, 60_000);

  afterAll(async () => {
    await load?.stop();
    await envoy?.stop();
    await sidecar?.stop(1_000);
    await a?.stop();
    await b?.stop();
  });

  it('(a) 0% → 50% errors on one arm: quarantined; client-visible errors drop after the trip', async () => {
    expect(flagsOnB()).toHaveLength(0);
    const warm = load.between(0, Date.now());
    expect(warm.length).toBeGreaterThan(1000);
    expect(share(warm, 'model-b')).toBeGreaterThan(0.3);
    const switchAt = Date.now();
    b.behaviour.errorRate = 0.5;
    expect(await poll(() => flagsOnB().length > 0, 15_000)).toBe(true);
    const flag = flagsOnB()[0]!;
    // The composition root hands the guardrails' readings to GET /v1/routes.
    const shown = (await (await fetch(`http://${sidecar.addresses.admin}/v1/routes`)).json()) as { routes: Array<{ arms: Array<{ name: string; readings: unknown }> }> };
    expect(shown.routes[0]?.arms.find((x) => x.name === 'model-b')?.readings).toMatchObject({ guardrail: { phase: expect.stringMatching(/^(quarantined|probation)$/), verdict: { kind: 'fail' } } });
    const ttq = flag.since - switchAt;
    await sleep(2000); // still inside the 3 s cooldown
    const before = load.between(switchAt, flag.since);
    // Requests sent after the trip (allow 50 ms for the sidecar's clock vs ours).
    const after = load.between(flag.since + 50, flag.since + 2000);
    expect(after.length).toBeGreaterThan(100);
    expect(after.filter((s) => s.arm === 'model-b')).toHaveLength(0);
    expect(errRate(after)).toBeLessThan(errRate(before));
    expect(errRate(after)).toBeLessThan(0.01);
    expect(route().eligibility.quarantineRule[1]).toMatch(/@guard-it$/);
    const trip = logs.find((l) => l.msg.startsWith('guardrail trip'))!;
    expect(trip).toMatchObject({ route: ROUTE, arm: 'model-b', action: 'quarantine' });
    const metrics = await sidecar.metrics.registry.getSingleMetricAsString('envoy_bandit_guardrail_trips_total');
    expect(metrics).toContain(`arm="model-b"`);
    console.log(
      `[guardrails/envoy] 0% → 50% errors at ~${RPS} rps: quarantined ${ttq} ms after the switch by ${String(trip.rule)} ` +
        `(value ${Number(trip.value).toFixed(3)} > ${Number(trip.limit).toFixed(3)}, ${String(trip.samples)} samples); ` +
        `client-visible error rate ${(errRate(before) * 100).toFixed(1)}% over ${before.length} requests before the trip, ` +
        `${(errRate(after) * 100).toFixed(2)}% over ${after.length} after`,
    );
  }, 40_000);

  it('(c) after the cooldown the recovered arm is re-probed at the floor share, released, and wins its traffic back', async () => {
    b.behaviour.errorRate = 0;
    const flag = flagsOnB()[0];
    expect(flag).toBeDefined();
    expect(await poll(() => route().eligibility.probation[1] === 1, COOLDOWN_MS + 3000)).toBe(true);
    const probationFrom = Date.now();
    expect(await poll(() => route().eligibility.probation[1] === 0, 20_000)).toBe(true);
    const releasedAt = Date.now();
    const probe = load.between(probationFrom, releasedAt);
    expect(flagsOnB()).toHaveLength(0);
    expect(route().eligibility.eligible[1]).toBe(1);
    expect(logs.some((l) => l.msg.startsWith('guardrail release'))).toBe(true);
    await sleep(3000);
    const back = load.between(releasedAt + 100, Date.now());
    expect(share(back, 'model-b')).toBeGreaterThan(0.35);
    expect(errRate(back)).toBeLessThan(0.01);
    console.log(
      `[guardrails/envoy] recovery: probation ${releasedAt - probationFrom} ms (model-b share ${(share(probe, 'model-b') * 100).toFixed(1)}% of ${probe.length} requests), ` +
        `then ${(share(back, 'model-b') * 100).toFixed(1)}% share after release`,
    );
  }, 40_000);

  it('(b) latency 50 ms → 1.5 s, under the 2 s p95 limit, is caught by the sequential latency test', async () => {
    // Let the released arm's baseline settle on fresh buckets before the regression.
    await sleep(6000);
    const tripsBefore = logs.filter((l) => l.msg.startsWith('guardrail trip')).length;
    const switchAt = Date.now();
    b.behaviour.latencyMs = 1500;
    expect(await poll(() => flagsOnB().length > 0, 20_000)).toBe(true);
    const flag = flagsOnB()[0]!;
    expect(flag.rule).toBe('cusum_latency');
    const trip = logs.filter((l) => l.msg.startsWith('guardrail trip'))[tripsBefore]!;
    expect(trip).toMatchObject({ arm: 'model-b', rule: 'cusum_latency' });
    b.behaviour.latencyMs = 50;
    console.log(
      `[guardrails/envoy] latency 50 ms → 1.5 s: quarantined ${flag.since - switchAt} ms after the switch by cusum_latency ` +
        `(statistic ${Number(trip.value).toFixed(1)} > ${Number(trip.limit).toFixed(0)}; absolute p95 limit 2000 ms)`,
    );
  }, 40_000);
});
