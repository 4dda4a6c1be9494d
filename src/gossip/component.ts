/**
 * The sidecar's gossip member: a gossip server on `gossip.listen`, rounds to
 * `fanout` random peers, and (when an aggregator is configured) one bounded
 * GetSnapshot at start to bootstrap. Ready after the first sync or the sync
 * timeout; then our own slot stops being adopted from peers.
 */
import { DEFAULT_GOSSIP_FANOUT, DEFAULT_GOSSIP_INTERVAL_MS, DEFAULT_GOSSIP_SYNC_TIMEOUT_MS } from '../config/defaults.js';
import type { GossipConfig } from '../config/types.js';
import type { ComponentFactory } from '../runtime/component.js';
import { createRng, randomSeed } from '../util/rng.js';
import { GossipNode } from './node.js';
import { createGossipServer, type GossipServer } from './server.js';
import { replicaGossipState } from './state.js';
import { GrpcGossipTransport } from './transport.js';
import { fetchAggregatorSnapshot } from '../aggregator/connector.js';
import { requireSecret } from '../util/secret.js';
import { credentialsOf, TlsFiles } from '../util/tls-files.js';
import { listenFailure } from '../util/address.js';

/** The bootstrap GetSnapshot waits at most this long (and never longer than the sync timeout). */
export const BOOTSTRAP_TIMEOUT_MS = 3_000;

/** Reads the gossip secret file, when one is configured. */
export async function loadGossipSecret(g: GossipConfig): Promise<Buffer | null> {
  // Config requires secret_file for a non-loopback listen, peer or DNS name (config/checks.ts).
  return g.secret_file ? requireSecret(g.secret_file, 'gossip.secret_file') : null;
}

export const gossipComponent: ComponentFactory = (ctx) => {
  const g = ctx.config.gossip;
  const agg = ctx.config.aggregator;
  if (!g && !agg) return null;
  const syncTimeoutMs = g?.sync_timeout_ms ?? DEFAULT_GOSSIP_SYNC_TIMEOUT_MS;
  const tls = ctx.config.tls ? new TlsFiles(ctx.config.tls, ctx.logger.child({ component: 'tls' })) : null;
  let transport: GrpcGossipTransport | null = null;
  let node: GossipNode | null = null;
  let server: GossipServer | null = null;
  return {
    name: 'gossip',
    async start() {
      const secret = g ? await loadGossipSecret(g) : null;
      await tls?.start();
      const creds = credentialsOf(tls);
      transport = new GrpcGossipTransport(creds.channel());
      const snapshotCreds = creds.channel();
      const bootstrapMs = Math.max(1, Math.min(BOOTSTRAP_TIMEOUT_MS, syncTimeoutMs));
      node = new GossipNode({
        state: replicaGossipState(ctx.state, ctx.logger.child({ component: 'gossip' })),
        peers: g?.peers ?? [],
        dns: g?.dns ?? null,
        listen: g?.listen ?? '',
        // Without gossip config (aggregator only) there are no peers: interval and fanout only pace the bootstrap.
        intervalMs: g?.interval_ms ?? DEFAULT_GOSSIP_INTERVAL_MS,
        fanout: g?.fanout ?? DEFAULT_GOSSIP_FANOUT,
        syncTimeoutMs,
        secret,
        transport,
        clock: ctx.clock,
        rng: createRng(randomSeed()),
        logger: ctx.logger.child({ component: 'gossip' }),
        metrics: ctx.metrics,
        bootstrap: agg ? () => fetchAggregatorSnapshot(agg.address, ctx.state.replicaId, bootstrapMs, snapshotCreds) : null,
      });
      if (g) {
        const n = node;
        // Feedback for another replica's decision is settled by that replica: carried over this mesh.
        n.feedbackHandler = (body, from) => ctx.feedback.settle?.(body, from) ?? 'feedback is not running on this replica';
        ctx.feedback.forward = (issuer, body) => n.forwardFeedback(issuer, body);
        server = createGossipServer(node, g.listen, ctx.logger, creds.server());
        const bound = await server.start().catch((e: unknown) => Promise.reject(listenFailure('gossip.listen', g.listen, e)));
        ctx.logger.info({ listen: bound.address, peers: g.peers, dns: g.dns, authenticated: secret !== null, mutual_tls: tls !== null }, 'gossip listening');
      }
      node.start();
    },
    async stop() {
      ctx.feedback.forward = null;
      await node?.stop();
      await server?.stop();
      transport?.close();
      tls?.stop();
    },
    async reconfigure() {
      // A config reload (SIGHUP, POST /v1/reload) also re-reads the certificate files.
      await tls?.reload();
    },
    readiness: () => node?.readiness() ?? 'not started',
  };
};
