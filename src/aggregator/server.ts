/**
 * The peer aggregator, composed: accepts reward streams from every replica
 * (streams.ts), drops duplicates by decision identity (issuing replica,
 * sequence; dedupe.ts), appends every new reward to the durable JSONL log and
 * acks a batch only once it is written and fsynced per policy (ingest.ts,
 * log.ts), and counts what it logged (summary.ts). It joins gossip as a member
 * holding no slot of its own (FleetView), serves its merged fleet view to
 * starting replicas (GetSnapshot), and persists that view periodically and on
 * shutdown (snapshots.ts). On restart it rebuilds the dedupe index and the
 * counts from the log, and the fleet view from the snapshot file.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { AdminServer, type AdminLimits } from '../admin/http.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import type { AggregatorConfig, Config } from '../config/types.js';
import { loadGossipSecret } from '../gossip/component.js';
import { encodeMessage } from '../gossip/message.js';
import { GossipNode } from '../gossip/node.js';
import { bindServer, GRPC_SERVER_OPTIONS, shutdownServer } from '../util/grpc.js';
import { aggregatorProto, type WireRewardAck, type WireRewardBatch } from './proto.js';
import { createGossipServer, type GossipServer } from '../gossip/server.js';
import { FleetView } from '../gossip/state.js';
import { GrpcGossipTransport } from '../gossip/transport.js';
import { credentialsOf, TlsFiles } from '../util/tls-files.js';
import { systemClock, type Clock } from '../util/clock.js';
import { createRng, randomSeed, type Rng } from '../util/rng.js';
import { DedupeIndex, DEDUPE_DEFAULTS, dedupeKey } from './dedupe.js';
import { ingestBatch, type IngestDeps } from './ingest.js';
import { RewardLog } from './log.js';
import { createAggregatorMetrics, type AggregatorMetrics } from './metrics.js';
import { FleetSnapshots } from './snapshots.js';
import { serveRewardStream } from './streams.js';
import { SummaryCounts, type AggregatorSummary } from './summary.js';
import { BanditError, ErrorCodes, type Result } from '../util/errors.js';

export { MAX_PENDING_BATCHES_PER_STREAM } from './streams.js';
export { MAX_SUMMARY_KEYS, type AggregatorSummary } from './summary.js';
export const AGGREGATOR_SHUTDOWN_GRACE_MS = 2_000;

export interface AggregatorServerOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  rng?: Rng;
  registry?: Registry;
  dedupe?: { horizonMs: number; maxIds: number };
  /** Start the admin HTTP server on listen.admin (default true). */
  admin?: boolean;
  /** Admin request limits (tests shorten the slow-client timeouts). */
  adminLimits?: Partial<AdminLimits>;
}

export class AggregatorServer {
  readonly fleet: FleetView;
  readonly metrics: Metrics;
  readonly log: RewardLog;
  private readonly dedupe: DedupeIndex;
  private readonly grpcServer: grpc.Server;
  private readonly extra: AggregatorMetrics;
  private readonly clock: Clock;
  /** config.aggregator, checked present (with a log file) by the constructor. */
  private readonly agg: AggregatorConfig;
  private readonly admin: AdminServer | null;
  private readonly counts = new SummaryCounts();
  private readonly snapshots: FleetSnapshots;
  private readonly ingestDeps: IngestDeps;
  private gossipNode: GossipNode | null = null;
  private gossipServer: GossipServer | null = null;
  private transport: GrpcGossipTransport | null = null;
  private tls: TlsFiles | null = null;
  private secret: Buffer | null = null;
  private listening = false;
  private stopped = false;
  addresses = { aggregator: '', admin: '', gossip: '' };

  constructor(private readonly o: AggregatorServerOptions) {
    const agg = o.config.aggregator;
    if (!agg?.log_file) throw new BanditError(ErrorCodes.CONFIG_INVALID, 'aggregator.log_file is required to run the aggregator');
    this.agg = agg;
    this.clock = o.clock ?? systemClock;
    this.fleet = new FleetView(o.config.replica_id, this.clock, o.config.state.slot_expiry_ms);
    const registry = o.registry ?? new Registry();
    this.metrics = createMetrics(registry, { processMetrics: o.registry === undefined });
    const extra = (this.extra = createAggregatorMetrics(registry));
    this.log = new RewardLog(agg.log_file, agg.fsync, {
      failed: (err, rejected) => {
        extra.ingested.inc({ outcome: 'write_failed' }, rejected);
        o.logger.error({ err: err.message, code: (err as NodeJS.ErrnoException).code, rejected_rewards: rejected, file: agg.log_file }, 'reward log write failed; batches refused (replicas keep and resend them); probing the disk');
      },
      recovered: (downMs) => o.logger.warn({ down_ms: downMs, file: agg.log_file }, 'reward log writable again; accepting batches'),
      rotated: (file) => o.logger.info({ file, keep: agg.log_keep }, 'reward log rotated'),
    }, { maxBytes: agg.log_max_bytes, keep: agg.log_keep });
    this.snapshots = new FleetSnapshots(this.fleet, agg.log_file, o.logger);
    const d = o.dedupe ?? DEDUPE_DEFAULTS;
    this.dedupe = new DedupeIndex(d.horizonMs, d.maxIds);
    this.ingestDeps = { log: this.log, dedupe: this.dedupe, counts: this.counts, metrics: extra, clock: this.clock };
    this.grpcServer = new grpc.Server(GRPC_SERVER_OPTIONS);
    this.grpcServer.addService(aggregatorProto().service, {
      Rewards: (call: grpc.ServerDuplexStream<WireRewardBatch, WireRewardAck>) =>
        serveRewardStream({ secret: this.secret, ingest: (b) => this.ingest(b), counts: this.counts, metrics: extra, clock: this.clock, logger: o.logger }, call),
      GetSnapshot: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        cb(null, encodeMessage('pull', this.fleet.id, this.fleet.snapshot(), this.clock.now(), this.secret));
      },
    });
    this.admin =
      o.admin === false
        ? null
        : new AdminServer({ address: o.config.listen.admin, logger: o.logger, registry, token: null, readiness: () => this.readiness(), ...(o.adminLimits ? { limits: o.adminLimits } : {}) });
    this.admin?.add({ method: 'GET', path: '/v1/summary', mutating: false, handle: () => ({ status: 200, body: this.summary() }) });
  }

  readiness(): { ready: boolean; checks: Record<string, boolean | string> } {
    const checks: Record<string, boolean | string> = {
      log: this.log.failed ? `reward log failed: ${this.log.failed.message}` : true,
      grpc: this.listening && !this.stopped,
    };
    return { ready: Object.values(checks).every((v) => v === true), checks };
  }

  summary(): AggregatorSummary {
    return this.counts.view(this.dedupe.size, Object.keys(this.fleet.snapshot().slots).sort());
  }

  /** Dedupe, log (durably, per policy), count; the ack for `batch` (ingest.ts). */
  ingest(batch: WireRewardBatch): Promise<Result<WireRewardAck>> {
    return ingestBatch(this.ingestDeps, batch);
  }

  async start(): Promise<typeof this.addresses> {
    const { config, logger } = this.o;
    const agg = this.agg;
    const t0 = Date.now();
    const now = this.clock.now();
    const replay = await this.log.open((r) => {
      const key = dedupeKey(r.decision_id);
      if (key !== null) this.dedupe.add(key, r.received_ms, now);
      this.counts.count(r);
    });
    this.extra.logBytes.set(this.log.bytes);
    logger.info({ file: agg.log_file, records: replay.records, bad_lines: replay.bad, torn_tail_cut: replay.truncatedTail, dedupe_ids: this.dedupe.size, ms: Date.now() - t0 }, 'reward log loaded');
    await this.snapshots.load();
    // Before binding: reward streams must not be accepted unauthenticated while the secret loads.
    if (config.gossip) this.secret = await loadGossipSecret(config.gossip);
    if (config.tls) {
      this.tls = new TlsFiles(config.tls, logger.child({ component: 'tls' }));
      await this.tls.start();
    }
    const creds = credentialsOf(this.tls);
    const transport = (this.transport = new GrpcGossipTransport(creds.channel()));
    const port = await bindServer(this.grpcServer, agg.address, creds.server());
    this.addresses.aggregator = `${agg.address.slice(0, agg.address.lastIndexOf(':'))}:${port}`;
    this.listening = true;
    const g = config.gossip;
    if (g) {
      this.gossipNode = new GossipNode({
        state: this.fleet,
        peers: g.peers,
        dns: g.dns,
        listen: g.listen,
        intervalMs: g.interval_ms,
        fanout: g.fanout,
        syncTimeoutMs: g.sync_timeout_ms,
        secret: this.secret,
        transport,
        clock: this.clock,
        rng: this.o.rng ?? createRng(randomSeed()),
        logger: logger.child({ component: 'gossip' }),
        metrics: this.metrics,
      });
      this.gossipServer = createGossipServer(this.gossipNode, g.listen, logger, creds.server());
      this.addresses.gossip = (await this.gossipServer.start()).address;
      this.gossipNode.start();
    }
    this.snapshots.startTimer(config.state.interval_ms);
    if (this.admin) {
      const a = await this.admin.start();
      this.addresses.admin = `${a.host}:${a.port}`;
    }
    logger.info({ replica: this.fleet.id, ...this.addresses, fsync: agg.fsync }, 'envoy-bandit aggregator started');
    return this.addresses;
  }

  /** Re-reads the certificate files now (SIGHUP; they are also re-read every tls.reload). True when a new set was taken. */
  async reloadTls(): Promise<boolean> {
    return (await this.tls?.reload()) ?? false;
  }

  /** Graceful: stop taking streams (bounded), finish writes, persist the fleet view, close. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.snapshots.stopTimer();
    await this.gossipNode?.stop();
    await this.gossipServer?.stop();
    await shutdownServer(this.grpcServer, AGGREGATOR_SHUTDOWN_GRACE_MS);
    this.transport?.close();
    this.tls?.stop();
    await this.log.close().catch((err: unknown) => this.o.logger.error({ err }, 'reward log close failed'));
    await this.snapshots.write();
    await this.admin?.close();
    this.o.logger.info({ rewards: this.counts.rewards, duplicates: this.counts.duplicates }, 'envoy-bandit aggregator stopped');
  }
}
