/**
 * The built-in scenarios (`--scenario NAME`, `--scenario all`). Written as the
 * same values a YAML scenario holds and checked by the same schema. Unless a
 * scenario says otherwise: 100 requests per simulated second, Bernoulli arms
 * answering in 100 ms, and no exploration floor (min_share 0), so the
 * comparison is between the algorithms' own exploration (docs/simulation.md).
 */
import { BUILTIN_POLICY_NAMES } from './policies.js';
import { scenarioFromValue, type Scenario } from './scenario.js';

const PURE = { min_share: 0 };

/** 20 arms: success rates 0.40 … 0.685 in a fixed shuffled order; the newest (last) is mediocre. */
const TWENTY_P = [0.52, 0.445, 0.61, 0.685, 0.4, 0.565, 0.64, 0.475, 0.58, 0.43, 0.655, 0.505, 0.625, 0.46, 0.67, 0.49, 0.595, 0.415, 0.535, 0.55];

const RAW: Array<Record<string, unknown>> = [
  {
    name: 'bernoulli-2',
    description: 'two arms, 0.60 vs 0.55 success, stationary; offline validation picked the right one',
    duration: 60,
    ...PURE,
    validation_arm: 'a',
    arms: [
      { name: 'a', p: 0.6 },
      { name: 'b', p: 0.55 },
    ],
  },
  {
    name: 'bernoulli-5',
    description: 'five arms 0.50–0.65, stationary; offline validation picked the third best',
    duration: 60,
    ...PURE,
    validation_arm: 'c',
    arms: [
      { name: 'a', p: 0.5 },
      { name: 'b', p: 0.55 },
      { name: 'c', p: 0.6 },
      { name: 'd', p: 0.65 },
      { name: 'e', p: 0.58 },
    ],
  },
  {
    name: 'bernoulli-20',
    description: 'twenty arms 0.40–0.685, stationary; validation picked the 3rd best',
    duration: 120,
    ...PURE,
    validation_arm: 'm11',
    arms: TWENTY_P.map((p, i) => ({ name: `m${String(i + 1).padStart(2, '0')}`, p })),
  },
  {
    name: 'continuous',
    description: 'latency-shaped reward (SLO 500 ms): log-normal latencies, the reward is the SLO score',
    kind: 'continuous',
    duration: 60,
    ...PURE,
    slo_ms: 500,
    validation_arm: 'large',
    arms: [
      { name: 'large', p: 0.995, latency_ms: 430, latency_sigma: 0.35 },
      { name: 'distilled', p: 0.98, latency_ms: 240, latency_sigma: 0.55 },
      { name: 'quantized', p: 0.99, latency_ms: 330, latency_sigma: 0.3 },
    ],
  },
  {
    name: 'abrupt-drift',
    description: 'the best arm (a, 0.70) drops to 0.40 at 40 s; b (0.60) becomes best',
    duration: 90,
    ...PURE,
    validation_arm: 'a',
    event: { at: 40, arm: 'a' },
    arms: [
      { name: 'a', p: 0.7, schedule: [{ at: 40, p: 0.4 }] },
      { name: 'b', p: 0.6 },
      { name: 'c', p: 0.5 },
    ],
  },
  {
    name: 'gradual-drift',
    description: 'a slides from 0.70 to 0.40 between 30 s and 60 s, crossing b (0.60) at 40 s',
    duration: 100,
    ...PURE,
    validation_arm: 'a',
    event: { at: 40, arm: 'a' },
    arms: [
      { name: 'a', p: 0.7, schedule: [{ at: 30, p: 0.4, over: 30 }] },
      { name: 'b', p: 0.6 },
      { name: 'c', p: 0.5 },
    ],
  },
  {
    name: 'failing-arm',
    description: 'the new release (a, 0.90, best) starts failing at 30 s (0.02 success): the rollback case',
    duration: 60,
    ...PURE,
    validation_arm: 'a',
    event: { at: 30, arm: 'a' },
    arms: [
      { name: 'b', p: 0.8 },
      { name: 'c', p: 0.7 },
      { name: 'a', p: 0.9, schedule: [{ at: 30, p: 0.02 }] },
    ],
  },
  {
    name: 'delayed-feedback',
    description: 'rewards reach the learner 5 s after the response; the best arm (c) drops at 40 s',
    duration: 90,
    ...PURE,
    feedback_delay: 5,
    validation_arm: 'c',
    event: { at: 40, arm: 'c' },
    arms: [
      { name: 'a', p: 0.55 },
      { name: 'b', p: 0.65 },
      { name: 'c', p: 0.75, schedule: [{ at: 40, p: 0.45 }] },
    ],
  },
  {
    name: 'cold-start',
    description: 'a better arm (c, 0.70) is added at 30 s to a (0.60) and b (0.55)',
    duration: 90,
    ...PURE,
    validation_arm: 'a',
    arms: [
      { name: 'a', p: 0.6 },
      { name: 'b', p: 0.55 },
      { name: 'c', p: 0.7, added_at: 30 },
    ],
  },
];

function build(): Scenario[] {
  return RAW.map((raw) => {
    const r = scenarioFromValue(raw, BUILTIN_POLICY_NAMES);
    if (!r.ok) throw new Error(`built-in scenario ${String(raw.name)} is invalid: ${JSON.stringify(r.error)}`);
    return r.value;
  });
}

export const BUILTIN_SCENARIOS: readonly Scenario[] = build();

export function builtinScenario(name: string): Scenario | undefined {
  return BUILTIN_SCENARIOS.find((s) => s.name === name);
}
