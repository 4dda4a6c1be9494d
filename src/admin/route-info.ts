import type { Engine } from '../engine/engine.js';

/** Extra per-arm readings for GET /v1/routes (guardrails register theirs: error rate, p95, EWMA). */
export type ArmReadings = (route: string, arm: string) => Record<string, unknown> | null;

const providers = new WeakMap<Engine, ArmReadings[]>();

/** Lets another component add readings to each arm in /v1/routes without the admin knowing it. */
export function registerArmReadings(engine: Engine, fn: ArmReadings): void {
  const list = providers.get(engine);
  if (list) list.push(fn);
  else providers.set(engine, [fn]);
}

/** The merged readings for one arm, or null when nobody provides any. */
export function armReadings(engine: Engine, route: string, arm: string): Record<string, unknown> | null {
  const list = providers.get(engine);
  if (!list) return null;
  let out: Record<string, unknown> | null = null;
  for (const fn of list) {
    const r = fn(route, arm);
    if (r) out = { ...(out ?? {}), ...r };
  }
  return out;
}
