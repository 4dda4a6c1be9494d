/**
 * Simulation scenarios: simulated arms over simulated time, written in YAML
 * (or built in, see builtins.ts) and checked with the same error style as the
 * config: every issue with the path of the bad field (`arms[1].schedule[0].p`).
 * Times are simulated seconds from the start of the run.
 */
import { parseDocument } from 'yaml';
import { z } from 'zod';
import * as D from '../../config/defaults.js';
import { configErrorMap, formatPath, fromZodIssues } from '../../config/issues.js';
import { NAME_RE, policySchema } from '../../config/schema.js';
import type { ConfigIssue } from '../../config/types.js';
import { err, ok, type Result } from '../../util/errors.js';

export type ArmKind = 'bernoulli' | 'continuous';

/** Arm behaviour from `at` on; `over` > 0 ramps linearly from the previous values. */
export interface ScheduleStep {
  at: number;
  p?: number | undefined;
  latency_ms?: number | undefined;
  latency_sigma?: number | undefined;
  over: number;
}

export interface ArmSpec {
  name: string;
  /** Probability of a 2xx response. */
  p: number;
  /** Bernoulli: the fixed response time. Continuous: the median of a log-normal latency. */
  latency_ms: number;
  /** Continuous: log-space standard deviation of the latency (0: always the median). */
  latency_sigma: number;
  /** Seconds into the run at which the arm is added to the route (cold start); 0: present from the start. */
  added_at: number;
  schedule: ScheduleStep[];
}

export interface Scenario {
  name: string;
  description: string;
  kind: ArmKind;
  /** Simulated seconds. */
  duration: number;
  /** Requests per simulated second, evenly spaced. */
  rps: number;
  /** Exploration floor given to the learning policies (baselines get none). */
  min_share: number;
  /** Seconds between a response and its reward reaching the statistics (delayed feedback); 0: at the response. */
  feedback_delay: number;
  /** Continuous arms: the latency SLO of the reward (1 below it, linearly down to 0 at twice it). */
  slo_ms: number;
  drift: { gamma: number; size: number };
  /** The arm the offline evaluation ranked best (the `validation` baseline sticks to it). */
  validation_arm: string;
  /** Static A/B weights by arm; absent: equal split over the arms present. */
  static_weights: Record<string, number> | null;
  /** The failure or drift to time the recovery from: the arm that got worse, and when. */
  event: { at: number; arm: string } | null;
  arms: ArmSpec[];
  /** Extra policies: name → a route `policy:` block exactly as in the config file. */
  policies: Record<string, Record<string, unknown>>;
}

/** Scenario defaults (named, documented in docs/simulation.md). */
export const DEFAULT_DURATION_S = 60;
export const DEFAULT_RPS = 100;
export const DEFAULT_BERNOULLI_LATENCY_MS = 100;
export const DEFAULT_CONTINUOUS_SIGMA = 0.25;
export const DEFAULT_SLO_MS = 500;
/** Keeps a run to a size one process finishes in reasonable time. */
export const MAX_REQUESTS_PER_RUN = 10_000_000;

const seconds = z.number().min(0);
const probability = z.number().min(0).max(1);
const positiveMs = z.number().gt(0);

const stepSchema = z.strictObject({
  at: seconds,
  p: probability.optional(),
  latency_ms: positiveMs.optional(),
  latency_sigma: z.number().min(0).optional(),
  over: seconds.default(0),
});

const armSchema = z.strictObject({
  name: z.string().regex(NAME_RE, { error: (iss) => `invalid arm name ${JSON.stringify(iss.input)}: use letters, digits, '.', '_' and '-'` }),
  p: probability.default(1),
  latency_ms: positiveMs.default(DEFAULT_BERNOULLI_LATENCY_MS),
  latency_sigma: z.number().min(0).optional(),
  added_at: seconds.default(0),
  schedule: z.array(stepSchema).default([]),
});

const scenarioSchema = z.strictObject({
  name: z.string().regex(NAME_RE, { error: (iss) => `invalid scenario name ${JSON.stringify(iss.input)}` }),
  description: z.string().default(''),
  kind: z.enum(['bernoulli', 'continuous']).default('bernoulli'),
  duration: z.number().gt(0).default(DEFAULT_DURATION_S),
  rps: z.number().gt(0).max(100_000).default(DEFAULT_RPS),
  min_share: z.number().min(0).lt(1).default(D.DEFAULT_MIN_SHARE),
  feedback_delay: seconds.default(0),
  slo_ms: positiveMs.default(DEFAULT_SLO_MS),
  drift: z
    .strictObject({
      gamma: z.number().gt(0).max(1).default(D.DEFAULT_DRIFT_GAMMA),
      size: z.int().min(1).default(D.DEFAULT_DRIFT_WINDOW_SIZE),
    })
    .prefault({}),
  validation_arm: z.string().optional(),
  static_weights: z.record(z.string(), z.number().min(0)).nullable().default(null),
  event: z.strictObject({ at: seconds, arm: z.string() }).nullable().default(null),
  arms: z.array(armSchema).min(1),
  policies: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
});

/** Names the simulator defines itself (policies.ts); a scenario's own policies may not reuse them. */
export type ReservedNames = ReadonlySet<string>;

/**
 * Checks a parsed YAML/JSON value as a scenario. `reserved` are the built-in
 * policy names a scenario's `policies` may not redefine.
 */
export function scenarioFromValue(data: unknown, reserved: ReservedNames = new Set()): Result<Scenario, ConfigIssue[]> {
  const parsed = scenarioSchema.safeParse(data, { error: configErrorMap });
  if (!parsed.success) return err(fromZodIssues(parsed.error.issues));
  const v = parsed.data;
  const issues: ConfigIssue[] = [];
  const at = (path: PropertyKey[], message: string) => issues.push({ path: formatPath(path), message });

  const names = new Map<string, number>();
  v.arms.forEach((a, i) => {
    const first = names.get(a.name);
    if (first !== undefined) at(['arms', i, 'name'], `duplicate arm name ${JSON.stringify(a.name)} (also arms[${first}])`);
    else names.set(a.name, i);
    let last = -1;
    a.schedule.forEach((s, j) => {
      if (s.at < last) at(['arms', i, 'schedule', j, 'at'], `steps must be in time order: ${s.at} comes after ${last}`);
      last = s.at;
      if (s.p === undefined && s.latency_ms === undefined && s.latency_sigma === undefined) {
        at(['arms', i, 'schedule', j], 'a step must set p, latency_ms or latency_sigma');
      }
    });
  });
  const initial = v.arms.filter((a) => a.added_at === 0);
  if (initial.length === 0) at(['arms'], 'at least one arm must be present from the start (added_at: 0)');
  const validation = v.validation_arm ?? initial[0]?.name ?? v.arms[0]!.name;
  if (v.validation_arm !== undefined) {
    const i = names.get(v.validation_arm);
    if (i === undefined) at(['validation_arm'], `unknown arm ${JSON.stringify(v.validation_arm)}`);
    else if (v.arms[i]!.added_at > 0) at(['validation_arm'], `arm ${JSON.stringify(v.validation_arm)} is not present from the start`);
  }
  if (v.event && !names.has(v.event.arm)) at(['event', 'arm'], `unknown arm ${JSON.stringify(v.event.arm)}`);
  if (v.static_weights) {
    for (const arm of Object.keys(v.static_weights)) {
      if (!names.has(arm)) at(['static_weights', arm], `unknown arm ${JSON.stringify(arm)}`);
    }
  }
  for (const [name, block] of Object.entries(v.policies)) {
    if (!NAME_RE.test(name)) at(['policies', name], `invalid policy name ${JSON.stringify(name)}`);
    if (reserved.has(name)) at(['policies', name], `${JSON.stringify(name)} is a built-in policy name; choose another`);
    const p = policySchema.safeParse(block, { error: configErrorMap });
    if (!p.success) for (const i of fromZodIssues(p.error.issues)) issues.push({ ...i, path: joinPath(formatPath(['policies', name]), i.path) });
  }
  const requests = v.duration * v.rps;
  if (requests > MAX_REQUESTS_PER_RUN) at(['duration'], `duration × rps is ${requests} requests; at most ${MAX_REQUESTS_PER_RUN}`);
  if (issues.length) return err(issues);

  const sigmaDefault = v.kind === 'continuous' ? DEFAULT_CONTINUOUS_SIGMA : 0;
  return ok({
    ...v,
    validation_arm: validation,
    arms: v.arms.map((a) => ({ ...a, latency_sigma: a.latency_sigma ?? sigmaDefault })),
  });
}

const joinPath = (prefix: string, rest: string) => (rest === '' ? prefix : rest.startsWith('[') ? prefix + rest : `${prefix}.${rest}`);

/** Parses a scenario from YAML text; YAML syntax errors come back with their line and column. */
export function parseScenario(text: string, reserved: ReservedNames = new Set()): Result<Scenario, ConfigIssue[]> {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, version: '1.2' });
  if (doc.errors.length) {
    return err(
      doc.errors.map((e) => ({
        path: lineCol(text, e.pos[0]),
        message: `YAML: ${e.message.split('\n', 1)[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return err([{ path: '', message: `YAML: ${(e as Error).message}` }]);
  }
  return scenarioFromValue(data, reserved);
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split('\n').length;
  return `line ${line}, col ${before.length - before.lastIndexOf('\n')}`;
}

/** Arm names present at time `tS` (seconds), in scenario order. */
export function armsPresentAt(s: Scenario, tS: number): ArmSpec[] {
  return s.arms.filter((a) => a.added_at <= tS);
}

/** The newest arm present at `tS`: latest `added_at`, the later-listed one on a tie. */
export function newestArm(s: Scenario, tS: number): string {
  const present = armsPresentAt(s, tS);
  let best = present[0] ?? s.arms[0]!;
  for (const a of present) if (a.added_at >= best.added_at) best = a;
  return best.name;
}
