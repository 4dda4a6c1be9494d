import type { Metrics } from '../metrics/metrics.js';
import type { Config } from '../config/types.js';
import type { ComponentFactory } from '../runtime/component.js';
import { Guardrails } from './guardrails.js';

/** envoy_bandit_guardrail_value / _limit are refreshed this often. */
export const GUARDRAIL_GAUGE_MS = 1_000;

/** The sidecar component: guardrails observe the engine from start to stop (none when no route has guardrails). */
export const guardrailsComponent: ComponentFactory = (ctx) => {
  if (!ctx.config.routes.some((r) => r.guardrails)) return null;
  const g = new Guardrails({ engine: ctx.engine, clock: ctx.clock, metrics: ctx.metrics, logger: ctx.logger, events: ctx.events });
  ctx.readings.add((route, arm) => g.readings(route, arm));
  let timer: NodeJS.Timeout | undefined;
  const refresh = () => refreshGuardrailGauges(g, ctx.config, ctx.metrics);
  return {
    name: 'guardrails',
    start() {
      g.start();
      refresh();
      timer = setInterval(refresh, GUARDRAIL_GAUGE_MS);
      timer.unref();
      return Promise.resolve();
    },
    stop() {
      clearInterval(timer);
      g.stop();
      return Promise.resolve();
    },
    reconfigure(config) {
      g.reconfigure(config);
      refresh();
    },
  };
};

/** Every rule's reading and limit per arm; latency rules in seconds, error rules as ratios. */
export function refreshGuardrailGauges(g: Guardrails, config: Config, metrics: Metrics): void {
  metrics.guardrailValue.reset();
  metrics.guardrailLimit.reset();
  for (const rc of config.routes) {
    if (!rc.guardrails) continue;
    for (const arm of rc.arms) {
      for (const r of g.ruleReadings(rc.name, arm.name)) {
        const scale = r.rule === 'latency_p95' || r.rule === 'ewma_latency' ? 1 / 1000 : 1;
        const labels = { route: rc.name, arm: arm.name, rule: r.rule };
        if (Number.isFinite(r.value)) metrics.guardrailValue.set(labels, r.value * scale);
        if (Number.isFinite(r.limit)) metrics.guardrailLimit.set(labels, r.limit * scale);
      }
    }
  }
}
