import { feedbackRoute } from '../admin/routes.js';
import { FeedbackManager } from '../reward/feedback.js';
import type { ComponentFactory } from './component.js';

/**
 * Holds feedback-configured rewards and sweeps them on a timer (reward/feedback.ts);
 * the composition root, not the reward layer, puts POST /v1/feedback on the admin server.
 */
export const feedbackComponent: ComponentFactory = (ctx) => {
  const manager = new FeedbackManager({ engine: ctx.engine, clock: ctx.clock, metrics: ctx.metrics, logger: ctx.logger });
  ctx.engine.observe(manager);
  ctx.admin.add(feedbackRoute(manager, ctx.logger));
  return {
    name: 'feedback',
    async start() {
      // Gossip starts first (runtime/components.ts): with a mesh, other replicas' decisions are forwarded.
      const port = ctx.feedback;
      if (port.forward) manager.forwarder = { forward: (issuer, items) => port.forward?.(issuer, items) ?? Promise.resolve({ ok: false, error: 'the gossip mesh has stopped' }) };
      port.settle = (body) => manager.settleForwarded(body);
      manager.start();
    },
    async stop() {
      ctx.feedback.settle = null;
      const n = manager.stop();
      if (n > 0) ctx.logger.info({ settled: n }, 'feedback: held decisions settled with their default at shutdown');
    },
  };
};
