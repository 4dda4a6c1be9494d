/**
 * Runs policies × seeds on a scenario and summarizes each policy over the
 * seeds: mean, sample standard deviation, min and max of every metric, and
 * the mean cumulative-regret curve.
 */
import type { SimPolicy } from './policies.js';
import type { Scenario } from './scenario.js';
import { CURVE_POINTS, runScenario, type RunOptions, type RunResult } from './simulator.js';

export interface Stat {
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface PolicySummary {
  scenario: string;
  policy: string;
  seeds: number;
  requests: number;
  reward: Stat;
  regret: Stat;
  bestShare: Stat;
  bestShareTail: Stat;
  /** Over the seeds that recovered (seconds); null when none did or the scenario has no event. */
  recoveryS: Stat | null;
  /** Seeds that never recovered (0 when there is no event). */
  recoveryNever: number;
  hasEvent: boolean;
  /** Mean cumulative regret at the end of each slice of the run. */
  curve: number[];
}

export interface ScenarioResult {
  scenario: Scenario;
  durationS: number;
  policies: PolicySummary[];
}

export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = sum / n;
  let ss = 0;
  for (const x of xs) ss += (x - mean) * (x - mean);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, min, max };
}

export function summarize(runs: readonly RunResult[], hasEvent: boolean): PolicySummary {
  const first = runs[0]!;
  const recovered = runs.filter((r) => typeof r.recoveryMs === 'number').map((r) => (r.recoveryMs as number) / 1000);
  const curve = new Array<number>(CURVE_POINTS).fill(0);
  for (const r of runs) r.curve.forEach((v, i) => (curve[i]! += v / runs.length));
  return {
    scenario: first.scenario,
    policy: first.policy,
    seeds: runs.length,
    requests: first.requests,
    reward: stat(runs.map((r) => r.reward)),
    regret: stat(runs.map((r) => r.regret)),
    bestShare: stat(runs.map((r) => r.bestShare)),
    bestShareTail: stat(runs.map((r) => r.bestShareTail)),
    recoveryS: hasEvent && recovered.length ? stat(recovered) : null,
    recoveryNever: hasEvent ? runs.length - recovered.length : 0,
    hasEvent,
    curve,
  };
}

export interface SuiteOptions {
  /** Seeds 1..seeds unless `seedList` is given. */
  seeds: number;
  seedList?: readonly number[];
  durationS?: number;
  minShare?: number;
  /** Called after each policy finishes (progress). */
  onProgress?: (scenario: string, policy: string) => void;
}

export function seedsOf(opts: SuiteOptions): number[] {
  return opts.seedList ? [...opts.seedList] : Array.from({ length: opts.seeds }, (_, i) => i + 1);
}

export function runPolicies(scenario: Scenario, policies: readonly SimPolicy[], opts: SuiteOptions): ScenarioResult {
  const seeds = seedsOf(opts);
  const out: PolicySummary[] = [];
  for (const p of policies) {
    const runs = seeds.map((seed) => {
      const o: RunOptions = { seed };
      if (opts.durationS !== undefined) o.durationS = opts.durationS;
      if (opts.minShare !== undefined) o.minShare = opts.minShare;
      return runScenario(scenario, p, o);
    });
    out.push(summarize(runs, scenario.event !== null));
    opts.onProgress?.(scenario.name, p.name);
  }
  return { scenario, durationS: opts.durationS ?? scenario.duration, policies: out };
}
