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
      manager.start();
    },
    async stop() {
      const n = manager.stop();
      if (n > 0) ctx.logger.info({ settled: n }, 'feedback: held decisions settled with their default at shutdown');
    },
  };
};
