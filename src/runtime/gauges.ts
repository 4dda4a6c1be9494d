import { ARM_STATES, type Metrics } from '../metrics/metrics.js';
import type { Engine } from '../engine/engine.js';

/** Refreshes the per-arm gauges (share, posterior mean, samples, state) and the routes' SLO budget gauges from the engine. */
export function refreshArmGauges(engine: Engine, metrics: Metrics): void {
  metrics.armTrafficShare.reset();
  metrics.armPosteriorMean.reset();
  metrics.armSamples.reset();
  metrics.armState.reset();
  metrics.sloBudgetRemaining.reset();
  metrics.sloBurnRate.reset();
  const now = engine.clock.now();
  for (const route of engine.routes) {
    if (route.slo) {
      metrics.sloBudgetRemaining.set({ route: route.name }, route.slo.remaining(now));
      metrics.sloBurnRate.set({ route: route.name }, route.slo.burnRate(now));
    }
    const shares = engine.shares(route, now);
    const summary = engine.armSummary(route);
    summary.forEach((s, a) => {
      const labels = { route: route.name, arm: s.arm };
      metrics.armTrafficShare.set(labels, shares[a] ?? 0);
      metrics.armPosteriorMean.set(labels, s.mean);
      metrics.armSamples.set(labels, s.stats.n);
      const current = armStateOf(engine, route.name, a);
      for (const st of ARM_STATES) metrics.armState.set({ ...labels, state: st }, st === current ? 1 : 0);
    });
  }
}

export function armStateOf(engine: Engine, routeName: string, arm: number): 'active' | 'quarantined' | 'paused' {
  const route = engine.route(routeName);
  if (!route) return 'active';
  engine.syncRecords(route);
  if (route.mode === 'paused') return 'paused';
  engine.refreshEligibility(route, engine.clock.now());
  return route.eligibility.eligible[arm] ? 'active' : 'quarantined';
}
