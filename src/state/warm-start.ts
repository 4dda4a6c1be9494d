/**
 * Warm start: a route's statistics begin from history — a decision log or a
 * previous snapshot (a replica's slot file or the aggregator's fleet file) —
 * scaled down to a stated effective sample size, so a new deployment does
 * not begin from zero yet fresh evidence soon outweighs the history.
 *
 * The result is a **prior**: every replica that loads the same file computes
 * the same prior, and the fleet view is prior + Σ slots (the prior is never
 * written into a slot, so N replicas do not count it N times).
 *
 * Decay: the prior is evidence dated `at` (the newest observation it holds)
 * and fades like any evidence of that age. With `drift: none` it stays at full
 * weight until a reset; with `half_life` each observation in the file is first
 * weighted 2^(−(at − t)/half_life) (what the fleet would hold at `at` had it
 * seen the history live), the total is scaled to `effective_samples`, and from
 * then on it fades by 2^(−(now − at)/half_life) like a slot of that age.
 * Starting its clock at the data's own time (not at process start) is what
 * makes every replica — started at different times — read the same prior.
 * `discount` and `window` fade per observation of one replica, which a prior
 * shared by the fleet has none of, so the config refuses warm_start with them.
 * A reset newer than `at` drops the prior (the route starts over).
 */
import { readFile } from 'node:fs/promises';
import type { RouteConfig, WarmStartConfig } from '../config/types.js';
import { FeatureMap } from '../contextual/features.js';
import { zeroLinearStats, type LinearStats } from '../contextual/model.js';
import type { ArmStats } from '../policy/types.js';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import { decayFactor, halfLifeOf } from './accumulator.js';
import { addPacked, featureShape } from './linear.js';
import { resetKey } from './records.js';
import { countsAfterReset, parseSnapshot, slotSchema, type Snapshot } from './snapshot.js';
import { parseUntrusted } from '../util/untrusted.js';
import { readProblem } from '../util/secret.js';

export interface WarmPrior {
  /** Epoch ms the prior is as of (the newest observation in the source). */
  at: number;
  /** Context-free statistics per arm name (scaled). */
  arms: Record<string, ArmStats>;
  /** Contextual routes: A, b, n per arm name (scaled), built with the feature map `key`. */
  linear: { key: string; d: number; arms: Record<string, LinearStats> } | null;
  /** Evidence in the source (decayed to `at`) and the factor it was scaled by to reach effective_samples. */
  sourceSamples: number;
  scale: number;
}

/** What a prior needs of its route. */
export interface WarmTarget {
  arms: readonly string[];
  halfLifeMs: number;
  /** Contextual routes: the feature map the decision log's contexts are read with. */
  features: FeatureMap | null;
  linearKey: string | null;
}

export function warmTargetOf(route: RouteConfig): WarmTarget {
  const contextual = route.features !== null && (route.policy.type === 'linucb' || route.policy.type === 'lints');
  return {
    arms: route.arms.map((a) => a.name),
    halfLifeMs: halfLifeOf(route.policy.drift),
    features: contextual ? new FeatureMap(route.features!) : null,
    linearKey: contextual ? featureShape(route.features!).key : null,
  };
}

function emptyPrior(t: WarmTarget, at: number): WarmPrior {
  const arms: Record<string, ArmStats> = {};
  for (const a of t.arms) arms[a] = { n: 0, sum: 0, sumSq: 0 };
  const linear = t.features && t.linearKey ? { key: t.linearKey, d: t.features.dim, arms: Object.fromEntries(t.arms.map((a) => [a, zeroLinearStats(t.features!.dim)])) } : null;
  return { at, arms, linear, sourceSamples: 0, scale: 1 };
}

/** Scales every statistic so the prior's total n is at most `effective` (never scaled up). */
function scaleTo(p: WarmPrior, effective: number): WarmPrior {
  let total = 0;
  for (const s of Object.values(p.arms)) total += s.n;
  const f = total > effective ? effective / total : 1;
  p.sourceSamples = total;
  p.scale = f;
  if (f === 1) return p;
  for (const s of Object.values(p.arms)) {
    s.n *= f;
    s.sum *= f;
    s.sumSq *= f;
  }
  for (const s of Object.values(p.linear?.arms ?? {})) {
    for (let i = 0; i < s.A.length; i++) s.A[i] = s.A[i]! * f;
    for (let i = 0; i < s.d; i++) s.b[i] = s.b[i]! * f;
    s.n *= f;
  }
  return p;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The prior from a decision log's text (docs/decision-log.md): every
 * `decision` line of `route` joined with the first `reward` line of its id,
 * whatever the decision's reason. Lines of other routes, decisions without a
 * reward and arms the route no longer has are skipped.
 */
export function priorFromDecisionLog(text: string, route: string, t: WarmTarget, effective: number): Result<WarmPrior, string> {
  const decisions = new Map<string, { time: number; arm: string; context: Record<string, string> }>();
  const rewards = new Map<string, { reward: number; time: number }>();
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    if (raw.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      return err(`line ${lineNo}: not JSON`);
    }
    if (!isObj(v) || typeof v.id !== 'string' || typeof v.route !== 'string') return err(`line ${lineNo}: expected a decision or reward line with id and route`);
    if (v.route !== route) continue;
    const time = typeof v.time === 'number' && Number.isFinite(v.time) ? v.time : 0;
    if (v.type === 'decision') {
      if (typeof v.arm !== 'string') return err(`line ${lineNo}: arm: expected a string`);
      const ctx = v.context ?? {};
      if (!isObj(ctx) || !Object.values(ctx).every((x) => typeof x === 'string')) return err(`line ${lineNo}: context: expected an object of header → string`);
      decisions.set(v.id, { time, arm: v.arm, context: ctx as Record<string, string> });
    } else if (v.type === 'reward') {
      if (typeof v.reward !== 'number' || !Number.isFinite(v.reward)) return err(`line ${lineNo}: reward: expected a finite number`);
      if (!rewards.has(v.id)) rewards.set(v.id, { reward: v.reward, time });
    } else {
      return err(`line ${lineNo}: type: expected "decision" or "reward"`);
    }
  }
  const events: Array<{ time: number; arm: string; context: Record<string, string>; reward: number }> = [];
  for (const [id, d] of decisions) {
    const r = rewards.get(id);
    if (r && t.arms.includes(d.arm)) events.push({ time: Math.max(d.time, r.time), arm: d.arm, context: d.context, reward: r.reward });
  }
  if (events.length === 0) return err(`no decision of route ${JSON.stringify(route)} with a reward for one of its arms (${t.arms.join(', ')})`);
  const at = Math.max(...events.map((e) => e.time));
  const p = emptyPrior(t, at);
  const x = t.features ? new Float64Array(t.features.dim) : null;
  for (const e of events) {
    const w = decayFactor(at - e.time, t.halfLifeMs);
    const s = p.arms[e.arm]!;
    s.n += w;
    s.sum += w * e.reward;
    s.sumSq += w * e.reward * e.reward;
    if (x && p.linear) {
      t.features!.extractRecord(e.context, x);
      const L = p.linear.arms[e.arm]!;
      const d = L.d;
      for (let i = 0; i < d; i++) {
        const xi = x[i]!;
        if (xi === 0) continue;
        for (let j = 0; j < d; j++) L.A[i * d + j] = L.A[i * d + j]! + w * xi * x[j]!;
        L.b[i] = L.b[i]! + w * e.reward * xi;
      }
      L.n += w;
    }
  }
  return ok(scaleTo(p, effective));
}

/**
 * The prior from a snapshot: a replica's slot file (that slot) or the
 * aggregator's fleet file (the sum over its slots, after the route's last
 * reset), each slot faded to the newest one's time on half_life routes.
 * Contextual statistics count only from slots built with the same features.
 */
export function priorFromSnapshot(snapshot: Snapshot, route: string, t: WarmTarget, effective: number): Result<WarmPrior, string> {
  const reset = snapshot.records?.[resetKey(route)]?.stamp;
  const slots = Object.values(snapshot.slots).filter((s) => s.routes[route] !== undefined && countsAfterReset(s, route, reset));
  if (slots.length === 0) return err(`no statistics of route ${JSON.stringify(route)} in the snapshot`);
  const at = Math.max(...slots.map((s) => s.updated_at));
  const p = emptyPrior(t, at);
  for (const slot of slots) {
    const f = decayFactor(at - slot.updated_at, t.halfLifeMs);
    for (const arm of t.arms) {
      const s = slot.routes[route]?.[arm];
      if (s) {
        const o = p.arms[arm]!;
        o.n += f * s.n;
        o.sum += f * s.sum;
        o.sumSq += f * s.sumSq;
      }
      const lr = slot.linear?.[route];
      const ls = lr?.arms[arm];
      if (p.linear && ls && lr.key === p.linear.key && lr.d === p.linear.d) addPacked(p.linear.arms[arm]!, ls, f);
    }
  }
  return ok(scaleTo(p, effective));
}

/** Reads a snapshot file: a slot file (`envoy-bandit-slot/1`) or a fleet file (`envoy-bandit-fleet/1`). */
function snapshotOf(doc: unknown): Snapshot | string {
  if (!isObj(doc)) return 'expected a slot file or a fleet snapshot file (a JSON object)';
  if (doc.slot !== undefined) {
    const slot = parseUntrusted(slotSchema, doc.slot, ErrorCodes.STATE_CORRUPT, 'slot');
    if (!slot.ok) return slot.error.message;
    const s: Snapshot = { slots: { [slot.value.replica]: slot.value } };
    if (isObj(doc.records)) {
      const full = parseSnapshot({ slots: {}, records: doc.records });
      if (full.ok) s.records = full.value.records ?? {};
    }
    return s;
  }
  if (doc.snapshot !== undefined) {
    const full = parseSnapshot(doc.snapshot);
    return full.ok ? full.value : full.error.message;
  }
  return 'expected a slot file ({slot: …}) or a fleet snapshot file ({snapshot: …})';
}

/** The config path of route `i`'s warm-start file. */
export const warmStartPath = (i: number): string => `routes[${i}].warm_start.from`;

/**
 * Loads a route's warm-start prior from its `warm_start` block: the one
 * loader `validate` and the start (and reloads) use. Errors name the file and
 * the problem: unreadable is EB_CONFIG_READ, unusable EB_CONFIG_INVALID.
 */
export async function loadWarmStart(route: RouteConfig, cfg: WarmStartConfig): Promise<Result<WarmPrior, BanditError>> {
  const fail = (msg: string) => err(new BanditError(ErrorCodes.CONFIG_INVALID, `${cfg.from}: ${msg}`));
  let text: string;
  try {
    text = await readFile(cfg.from, 'utf8');
  } catch (e) {
    return err(new BanditError(ErrorCodes.CONFIG_READ, `cannot read ${cfg.from}: ${readProblem(e)}`));
  }
  const t = warmTargetOf(route);
  const source = cfg.route ?? route.name;
  if (cfg.kind === 'decision_log') {
    const r = priorFromDecisionLog(text, source, t, cfg.effective_samples);
    return r.ok ? r : fail(r.error);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail(`not JSON: ${(e as Error).message}`);
  }
  const snap = snapshotOf(doc);
  if (typeof snap === 'string') return fail(snap);
  const r = priorFromSnapshot(snap, source, t, cfg.effective_samples);
  return r.ok ? r : fail(r.error);
}

/** True when a reset record newer than the prior's data drops it. */
export function priorResetBy(prior: WarmPrior, reset: { ms: number } | undefined): boolean {
  return reset !== undefined && reset.ms > prior.at;
}
