/**
 * Reads the decision log (docs/decision-log.md) back as bandit events for
 * off-policy evaluation: each `decision` line joined with the first `reward`
 * line of the same id. What OPE needs from a line: the arm, the propensity
 * the deciding policy gave it (floor included), the context (header → value,
 * present when the route declares features) and the reward.
 */
import { err, ok, type Result } from '../../util/errors.js';
import type { Context } from './candidate.js';
import { jsonLines } from './jsonl.js';

export interface LoggedEvent {
  time: number;
  arm: string;
  propensity: number;
  context: Context;
  reward: number;
}

export interface LogRead {
  route: string;
  arms: string[];
  contextKeys: string[];
  events: LoggedEvent[];
  /** Decisions left out, by why. */
  skipped: { noReward: number; noPropensity: number; notPolicy: Record<string, number>; otherRoute: number };
}

interface RawDecision {
  time: number;
  route: string;
  arm: string;
  propensity: number | null;
  reason: string;
  context: Context;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses the log's text. `route` picks one route (required when the log has
 * several). Only decisions the policy made (`reason: policy`) are events:
 * sticky, forced, paused and fallback decisions did not sample from the
 * policy's distribution, so their propensity says nothing about it.
 */
export function readDecisionLog(text: string, route?: string): Result<LogRead, string> {
  const decisions = new Map<string, RawDecision>();
  const rewards = new Map<string, number>();
  const routes = new Set<string>();
  for (const line of jsonLines(text)) {
    if (line.error !== undefined) return err(line.error);
    const { where, value: v } = line;
    if (!isObj(v) || typeof v.id !== 'string' || typeof v.route !== 'string' || typeof v.arm !== 'string') return err(`${where}: expected a decision or reward line with id, route and arm`);
    if (v.type === 'decision') {
      if (v.propensity !== null && (typeof v.propensity !== 'number' || !(v.propensity >= 0 && v.propensity <= 1))) return err(`${where}: propensity: expected null or a number in [0, 1]`);
      const ctx = v.context ?? {};
      if (!isObj(ctx) || !Object.values(ctx).every((x) => typeof x === 'string')) return err(`${where}: context: expected an object of header → string`);
      routes.add(v.route);
      decisions.set(v.id, {
        time: typeof v.time === 'number' ? v.time : 0,
        route: v.route,
        arm: v.arm,
        propensity: v.propensity as number | null,
        reason: typeof v.reason === 'string' ? v.reason : 'policy',
        context: ctx as Context,
      });
    } else if (v.type === 'reward') {
      if (typeof v.reward !== 'number' || !Number.isFinite(v.reward)) return err(`${where}: reward: expected a finite number`);
      if (!rewards.has(v.id)) rewards.set(v.id, v.reward);
    } else {
      return err(`${where}: type: expected "decision" or "reward"`);
    }
  }
  if (routes.size === 0) return err('no decision lines');
  if (route === undefined) {
    if (routes.size > 1) return err(`the log has several routes (${[...routes].sort().join(', ')}); pick one with --route`);
    route = [...routes][0]!;
  } else if (!routes.has(route)) {
    return err(`route ${JSON.stringify(route)} is not in the log (it has ${[...routes].sort().join(', ')})`);
  }
  const skipped: LogRead['skipped'] = { noReward: 0, noPropensity: 0, notPolicy: {}, otherRoute: 0 };
  const events: LoggedEvent[] = [];
  const arms = new Set<string>();
  const keys = new Set<string>();
  for (const [id, d] of decisions) {
    if (d.route !== route) {
      skipped.otherRoute++;
      continue;
    }
    arms.add(d.arm);
    if (d.reason !== 'policy') {
      skipped.notPolicy[d.reason] = (skipped.notPolicy[d.reason] ?? 0) + 1;
      continue;
    }
    if (d.propensity === null || d.propensity <= 0) {
      skipped.noPropensity++;
      continue;
    }
    const r = rewards.get(id);
    if (r === undefined) {
      skipped.noReward++;
      continue;
    }
    for (const k of Object.keys(d.context)) keys.add(k);
    events.push({ time: d.time, arm: d.arm, propensity: d.propensity, context: d.context, reward: r });
  }
  events.sort((a, b) => a.time - b.time);
  return ok({ route, arms: [...arms].sort(), contextKeys: [...keys].sort(), events, skipped });
}
