/**
 * One simulated run: a scenario, a policy and a seed, driven through the same
 * Engine and ReplicaState the sidecar uses, over simulated time (ManualClock)
 * with seeded randomness, in one process. Same inputs, same result.
 *
 * Each request arrives on a fixed grid (1/rps apart) and is decided with
 * `engine.decide(route, null)`; its response is drawn from the chosen arm's
 * behaviour at that moment and delivered at decision time + latency with
 * `engine.onResponse(d, status, undefined, latency)`. With a feedback delay,
 * an EngineObserver defers every reward and the simulator applies it
 * `feedback_delay` seconds later with `applyRewardByName` (the path delayed
 * business feedback takes in the sidecar). Arms added mid-run enter through
 * `engine.reload` with a config that lists them; learned state is kept.
 */
import { Engine, type Decision } from '../../engine/engine.js';
import { DecisionIdCodec } from '../../reward/decision-id.js';
import { ReplicaState, routeShapes } from '../../state/replica-state.js';
import { ManualClock } from '../../util/clock.js';
import { createRng, normal } from '../../util/rng.js';
import { drawResponse, expectedReward, paramsAt, type ArmParams } from './arms.js';
import { SIM_REPLICA, SIM_ROUTE, simConfig } from './engine-config.js';
import { EventQueue } from './event-queue.js';
import type { PolicyContext, SimPolicy } from './policies.js';
import { armsPresentAt, newestArm, type ArmSpec, type Scenario } from './scenario.js';

/** Points of the cumulative-regret curve kept per run (evenly spaced in simulated time). */
export const CURVE_POINTS = 100;
/** Trailing window of decisions over which the affected arm's share is read for recovery. */
export const RECOVERY_WINDOW_MS = 1000;
/** The affected arm counts as rolled back once its share in the window is below this. */
export const RECOVERY_SHARE = 0.1;
/** Decisions from the last this fraction of the run make up "best share, last 20%". */
export const TAIL_FRACTION = 0.2;
/** Expected rewards this close count as tied for best. */
const BEST_TOLERANCE = 1e-12;
/** Fixed key: decision ids only need to be well-formed here, not secret. */
const SIM_ID_KEY = Buffer.alloc(32, 7);

export interface RunOptions {
  seed: number;
  /** Overrides the scenario's duration (seconds); schedules keep their absolute times. */
  durationS?: number;
  /** Overrides the scenario's exploration floor for the learning policies. */
  minShare?: number;
}

export interface RunResult {
  scenario: string;
  policy: string;
  seed: number;
  requests: number;
  /** Sum of the rewards the engine computed for the responses (realized). */
  reward: number;
  /** Sum over decisions of (best expected reward − chosen arm's expected reward) at decision time. */
  regret: number;
  /** Share of decisions that went to a best arm of that moment. */
  bestShare: number;
  bestShareTail: number;
  /** ms from the event until the affected arm held < 10% of the trailing window; null: never; undefined: no event. */
  recoveryMs: number | null | undefined;
  /** Cumulative regret at the end of each of CURVE_POINTS equal slices of the run. */
  curve: number[];
  /** Decisions per arm name. */
  armCounts: Record<string, number>;
}

type SimEvent =
  | { kind: 'response'; d: Decision; status: number; latencyMs: number }
  | { kind: 'feedback'; route: string; arm: string; reward: number; id: string };

/** Seeds the environment's draws apart from the engine's. */
const envSeed = (seed: number) => (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + 0x7f4a7c15) >>> 0;

export function runScenario(scenario: Scenario, policy: SimPolicy, opts: RunOptions): RunResult {
  const durationMs = (opts.durationS ?? scenario.duration) * 1000;
  const minShare = opts.minShare ?? scenario.min_share;
  const interval = 1000 / scenario.rps;
  const n = Math.max(1, Math.floor(durationMs / interval));
  const kind = scenario.kind;
  const slo = scenario.slo_ms;
  const feedbackMs = scenario.feedback_delay * 1000;

  const clock = new ManualClock(0);
  const envRng = createRng(envSeed(opts.seed));
  const arms = new Map<string, ArmSpec>(scenario.arms.map((a) => [a.name, a]));
  const additions = [...new Set(scenario.arms.map((a) => a.added_at).filter((t) => t > 0))].sort((a, b) => a - b);

  let present = armsPresentAt(scenario, 0).map((a) => a.name);
  const params = new Map<string, ArmParams>(scenario.arms.map((a) => [a.name, { p: 0, latencyMs: 0, sigma: 0 }]));
  const expected = new Map<string, number>();
  let bestArm = present[0]!;
  let bestValue = 0;

  const refreshExpected = (tS: number) => {
    bestValue = -Infinity;
    for (const name of present) {
      const e = expectedReward(kind, paramsAt(arms.get(name)!, tS, params.get(name)!), slo);
      expected.set(name, e);
      if (e > bestValue + BEST_TOLERANCE) {
        bestValue = e;
        bestArm = name;
      }
    }
  };
  refreshExpected(0);

  const ctx = (tS: number): PolicyContext => ({
    kind,
    arms: present,
    newest: newestArm(scenario, tS),
    validationArm: scenario.validation_arm,
    bestArm,
    minShare,
    drift: scenario.drift,
    staticWeights: scenario.static_weights,
  });
  const configFor = (tS: number) => simConfig({ kind, arms: present, policy: policy.build(ctx(tS)), sloMs: slo });

  const config = configFor(0);
  const state = new ReplicaState(SIM_REPLICA, routeShapes(config), clock);
  const engine = new Engine({
    config,
    state,
    rng: createRng(opts.seed),
    clock,
    monotonic: () => clock.now(),
    metrics: null,
    logger: null,
    ids: new DecisionIdCodec(SIM_ID_KEY, SIM_REPLICA),
  });
  let route = engine.route(SIM_ROUTE)!;
  let configuredBest = bestArm;

  const queue = new EventQueue<SimEvent>();
  let reward = 0;
  if (feedbackMs > 0) {
    engine.observe({
      deferReward: (d, o) => {
        queue.push(clock.now() + feedbackMs, { kind: 'feedback', route: d.route.name, arm: d.route.armNames[d.arm]!, reward: o.reward, id: d.id });
        return true;
      },
    });
  }
  const deliver = (until: number) => {
    for (let ev = queue.peekTime(); ev !== undefined && ev <= until; ev = queue.peekTime()) {
      const [t, e] = queue.pop()!;
      clock.set(t);
      if (e.kind === 'response') reward += engine.onResponse(e.d, e.status, undefined, e.latencyMs).reward;
      else engine.applyRewardByName(e.route, e.arm, e.reward, 'feedback', e.id);
    }
  };

  const event = scenario.event;
  const recoveryStart = event ? event.at * 1000 : Infinity;
  let recoveryMs: number | null | undefined = event ? null : undefined;
  const winTimes = new Float64Array(n);
  const winHit = new Uint8Array(n);
  let winHead = 0;
  let winAffected = 0;

  const tailStart = durationMs * (1 - TAIL_FRACTION);
  let regret = 0;
  let onBest = 0;
  let tailCount = 0;
  let tailBest = 0;
  const curve = new Array<number>(CURVE_POINTS).fill(0);
  const armCounts: Record<string, number> = {};
  let nextAddition = 0;

  for (let i = 0; i < n; i++) {
    const t = Math.round(i * interval);
    const tS = t / 1000;
    deliver(t);
    clock.set(t);
    refreshExpected(tS);
    let reload = false;
    while (nextAddition < additions.length && additions[nextAddition]! <= tS) {
      nextAddition++;
      present = armsPresentAt(scenario, tS).map((a) => a.name);
      refreshExpected(tS);
      reload = true;
    }
    if (policy.followsBest && bestArm !== configuredBest) reload = true;
    if (reload) {
      engine.reload(configFor(tS));
      route = engine.route(SIM_ROUTE)!;
      configuredBest = bestArm;
    }

    const d = engine.decide(route, null);
    const armName = route.armNames[d.arm]!;
    armCounts[armName] = (armCounts[armName] ?? 0) + 1;
    const chosen = expected.get(armName)!;
    regret += bestValue - chosen;
    const isBest = chosen >= bestValue - BEST_TOLERANCE;
    if (isBest) onBest++;
    if (t >= tailStart) {
      tailCount++;
      if (isBest) tailBest++;
    }
    curve[Math.min(CURVE_POINTS - 1, Math.floor((t / durationMs) * CURVE_POINTS))] = regret;

    if (event) {
      const hit = armName === event.arm ? 1 : 0;
      winTimes[i] = t;
      winHit[i] = hit;
      winAffected += hit;
      while (winTimes[winHead]! <= t - RECOVERY_WINDOW_MS) winAffected -= winHit[winHead++]!;
      if (recoveryMs === null && t >= recoveryStart && winAffected < RECOVERY_SHARE * (i + 1 - winHead)) recoveryMs = t - recoveryStart;
    }

    const u = envRng.next();
    const z = normal(envRng);
    const resp = drawResponse(kind, params.get(armName)!, u, z);
    queue.push(t + Math.max(1, Math.ceil(resp.latencyMs)), { kind: 'response', d, status: resp.status, latencyMs: resp.latencyMs });
  }
  deliver(Infinity);
  // Slices no decision fell into (very low rps) carry the running total forward.
  for (let j = 1; j < CURVE_POINTS; j++) if (curve[j]! < curve[j - 1]!) curve[j] = curve[j - 1]!;

  return {
    scenario: scenario.name,
    policy: policy.name,
    seed: opts.seed,
    requests: n,
    reward,
    regret,
    bestShare: onBest / n,
    bestShareTail: tailCount > 0 ? tailBest / tailCount : 0,
    recoveryMs,
    curve,
    armCounts,
  };
}
