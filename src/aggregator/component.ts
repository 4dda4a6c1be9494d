/** Sidecar component: streams every applied reward to the aggregator. */
import type { ComponentFactory } from '../runtime/component.js';
import { createRng, randomSeed } from '../util/rng.js';
import { RewardStreamClient } from './client.js';
import { grpcRewardConnector } from './connector.js';

export const rewardStreamComponent: ComponentFactory = (ctx) => {
  const agg = ctx.config.aggregator;
  if (!agg) return null;
  const connector = grpcRewardConnector(agg.address);
  const client = new RewardStreamClient({
    replica: ctx.config.replica_id,
    batch: agg.batch,
    flushMs: agg.flush_ms,
    buffer: agg.buffer,
    connect: connector.connect,
    clock: ctx.clock,
    rng: createRng(randomSeed()),
    logger: ctx.logger.child({ component: 'reward-stream' }),
    metrics: ctx.metrics,
  });
  return {
    name: 'reward_stream',
    async start() {
      client.start();
      ctx.engine.observe({ onReward: (e) => client.offer(e) });
      ctx.logger.info({ aggregator: agg.address, batch: agg.batch, flush_ms: agg.flush_ms, buffer: agg.buffer }, 'reward stream started');
    },
    async stop() {
      const s = await client.stop();
      connector.close();
      ctx.logger.info({ ...s }, 'reward stream stopped');
    },
  };
};
