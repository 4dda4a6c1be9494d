/** Shared by the admin, feedback and decision-log tests: a real Engine on a hand-built config. */
import { Registry } from 'prom-client';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Engine } from '../../src/engine/engine.js';
import { DecisionIdCodec } from '../../src/reward/decision-id.js';
import { ReplicaState, routeShapes } from '../../src/state/replica-state.js';
import { ManualClock } from '../../src/util/clock.js';
import { createRng } from '../../src/util/rng.js';

export const KEY = Buffer.alloc(32, 3);
export const T0 = 1_700_000_000_000;

export interface RouteSpec {
  name: string;
  arms?: string[];
  feedback?: string | null;
  policy?: string;
}

export function configYaml(routes: RouteSpec[], extra = ''): string {
  const lines = ['replica_id: r1', 'listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }', 'routes:'];
  for (const r of routes) {
    const arms = r.arms ?? ['a', 'b'];
    lines.push(`  - name: ${r.name}`, `    match: { path_prefix: /${r.name} }`, '    arms:');
    for (const a of arms) lines.push(`      - { name: ${a}, cluster: c_${a}, cost: 0 }`);
    lines.push(`    default_arm: ${arms[0]}`, `    policy: ${r.policy ?? '{ type: thompson }'}`, '    guardrails: null');
    lines.push('    reward:', '      weights: { success: 1, latency: 0, header: 0, cost: 0 }');
    if (r.feedback) lines.push(`      feedback: ${r.feedback}`);
  }
  return lines.join('\n') + '\n' + extra;
}

export function makeConfig(routes: RouteSpec[], extra = ''): Config {
  const res = parseConfig(configYaml(routes, extra), { env: {} });
  if (!res.ok) throw new Error(`fixture config invalid: ${JSON.stringify(res.error)}`);
  return res.value;
}

export interface Rig {
  config: Config;
  engine: Engine;
  state: ReplicaState;
  clock: ManualClock;
  metrics: Metrics;
  ids: DecisionIdCodec;
}

export function makeEngine(config: Config, opts: { replica?: string; seed?: number } = {}): Rig {
  const clock = new ManualClock(T0);
  const replica = opts.replica ?? config.replica_id;
  const state = new ReplicaState(replica, routeShapes(config), clock);
  const metrics = createMetrics(new Registry());
  const ids = new DecisionIdCodec(KEY, replica);
  const engine = new Engine({ config, state, rng: createRng(opts.seed ?? 7), clock, metrics, logger: null, ids, monotonic: () => 0 });
  return { config, engine, state, clock, metrics, ids };
}

/** The value of a counter/gauge sample with exactly these labels (0 when absent). */
export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  // Summary series (`x_sum`, `x_count`) live on the metric `x`, told apart by metricName.
  const base = name.replace(/_(sum|count)$/, '');
  const m = metrics.registry.getSingleMetric(name) ?? metrics.registry.getSingleMetric(base);
  if (!m) return 0;
  const data = await m.get();
  const series = data.name === name ? data.values : data.values.filter((v) => (v as { metricName?: string }).metricName === name);
  const hit = series.find((v) => Object.entries(labels).every(([k, val]) => String((v.labels as Record<string, unknown>)[k]) === val) && Object.keys(v.labels).length === Object.keys(labels).length);
  return hit?.value ?? 0;
}
