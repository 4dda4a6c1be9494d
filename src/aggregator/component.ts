/** Sidecar component: streams every applied reward to the aggregator. */
import type { ComponentFactory } from '../runtime/component.js';
import { createRng, randomSeed } from '../util/rng.js';
import { RewardStreamClient } from './client.js';
import { loadGossipSecret } from '../gossip/component.js';
import { grpcRewardConnector, type GrpcRewardConnector } from './connector.js';
import { credentialsOf, TlsFiles } from '../util/tls-files.js';

export const rewardStreamComponent: ComponentFactory = (ctx) => {
  const agg = ctx.config.aggregator;
  if (!agg) return null;
  const tls = ctx.config.tls ? new TlsFiles(ctx.config.tls, ctx.logger.child({ component: 'tls' })) : null;
  const replica = ctx.config.replica_id;
  // Both made at start: the connector needs the secret, the client its connector.
  let connector: GrpcRewardConnector | null = null;
  let client: RewardStreamClient | null = null;
  return {
    name: 'reward_stream',
    async start() {
      // The fleet's gossip secret authenticates the stream too (none on a loopback-only fleet).
      const secret = ctx.config.gossip ? await loadGossipSecret(ctx.config.gossip) : null;
      await tls?.start();
      const conn = grpcRewardConnector(agg.address, { auth: secret ? { secret, replica, now: () => ctx.clock.now() } : null, credentials: credentialsOf(tls).channel() });
      const c = new RewardStreamClient({
        replica,
        batch: agg.batch,
        flushMs: agg.flush_ms,
        buffer: agg.buffer,
        connect: conn.connect,
        clock: ctx.clock,
        rng: createRng(randomSeed()),
        logger: ctx.logger.child({ component: 'reward-stream' }),
        metrics: ctx.metrics,
      });
      connector = conn;
      client = c;
      c.start();
      ctx.engine.observe({ onReward: (e) => c.offer(e) });
      ctx.logger.info({ aggregator: agg.address, batch: agg.batch, flush_ms: agg.flush_ms, buffer: agg.buffer }, 'reward stream started');
    },
    async stop() {
      const s = await client?.stop();
      connector?.close();
      tls?.stop();
      if (s) ctx.logger.info({ ...s }, 'reward stream stopped');
    },
    async reconfigure() {
      await tls?.reload();
    },
  };
};
