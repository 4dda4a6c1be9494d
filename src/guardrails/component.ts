import type { ComponentFactory } from '../runtime/component.js';
import { Guardrails } from './guardrails.js';

/** The sidecar component: guardrails observe the engine from start to stop (none when no route has guardrails). */
export const guardrailsComponent: ComponentFactory = (ctx) => {
  if (!ctx.config.routes.some((r) => r.guardrails)) return null;
  const g = new Guardrails({ engine: ctx.engine, clock: ctx.clock, metrics: ctx.metrics, logger: ctx.logger });
  return {
    name: 'guardrails',
    start() {
      g.start();
      return Promise.resolve();
    },
    stop() {
      g.stop();
      return Promise.resolve();
    },
    reconfigure(config) {
      g.reconfigure(config);
    },
  };
};
