/**
 * The sidecar Config for one simulated route, built as the YAML a user would
 * write and run through the real loader (defaults, validation, drift aliases),
 * so the simulator exercises exactly what the sidecar would run.
 */
import { formatIssues, parseConfig } from '../../config/load.js';
import type { Config } from '../../config/types.js';
import type { ArmKind } from './scenario.js';

export const SIM_ROUTE = 'sim';
export const SIM_REPLICA = 'sim';

export interface RouteShapeInput {
  kind: ArmKind;
  arms: readonly string[];
  policy: Record<string, unknown>;
  sloMs: number;
  /** The route's `features:` (contextual policies). */
  features?: unknown;
}

/**
 * The route's reward: success only for Bernoulli arms; the latency SLO
 * component only for continuous arms (a failed call still earns 0).
 */
function rewardBlock(kind: ArmKind, sloMs: number): Record<string, unknown> {
  return kind === 'bernoulli'
    ? { success: { statuses: ['2xx'] }, weights: { success: 1, latency: 0, header: 0, cost: 0 } }
    : { success: { statuses: ['2xx'] }, latency: { slo: `${sloMs}ms` }, weights: { success: 0, latency: 1, header: 0, cost: 0 } };
}

const cache = new Map<string, Config>();
const CACHE_MAX = 512;

/** Builds (and memoizes: the engine never mutates a Config) the config; throws with the loader's issues if invalid. */
export function simConfig(input: RouteShapeInput): Config {
  const raw = {
    replica_id: SIM_REPLICA,
    routes: [
      {
        name: SIM_ROUTE,
        arms: input.arms.map((name) => ({ name, cluster: name })),
        default_arm: input.arms[0],
        policy: input.policy,
        sticky: null,
        guardrails: null,
        reward: rewardBlock(input.kind, input.sloMs),
        ...(input.features === undefined ? {} : { features: input.features }),
      },
    ],
  };
  const text = JSON.stringify(raw);
  const hit = cache.get(text);
  if (hit) return hit;
  const r = parseConfig(text, { env: {}, hostname: SIM_REPLICA });
  if (!r.ok) throw new Error(`policy ${JSON.stringify(input.policy)} is not a valid route policy: ${formatIssues(r.error).join('; ')}`);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(text, r.value);
  return r.value;
}
