/**
 * The peer aggregator: accepts reward streams from every replica, drops
 * duplicates by decision identity (issuing replica, sequence; dedupe.ts), appends every new reward to the durable JSONL log
 * and acks a batch only once it is written (and fsynced per policy). It joins
 * gossip as a member holding no slot of its own (FleetView), serves its merged
 * fleet view to starting replicas (GetSnapshot), and persists that view to
 * `<log_file>.snapshot.json` periodically and on shutdown. On restart it
 * rebuilds the dedupe index and the counts from the log, and the fleet view
 * from the snapshot file.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { AdminServer, type AdminLimits } from '../admin/http.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import type { Config } from '../config/types.js';
import { loadGossipSecret } from '../gossip/component.js';
import { encodeMessage } from '../gossip/message.js';
import { GossipNode } from '../gossip/node.js';
import { bindServer, GRPC_SERVER_OPTIONS, shutdownServer } from '../util/grpc.js';
import { aggregatorProto, type WireReward, type WireRewardAck, type WireRewardBatch } from './proto.js';
import { createGossipServer, type GossipServer } from '../gossip/server.js';
import { FleetView } from '../gossip/state.js';
import { GrpcGossipTransport } from '../gossip/transport.js';
import { systemClock, type Clock } from '../util/clock.js';
import { createRng, randomSeed, type Rng } from '../util/rng.js';
import { DedupeIndex, DEDUPE_DEFAULTS, dedupeKey } from './dedupe.js';
import { fleetFileOf, readFleetFile, writeFleetFile } from './fleet-file.js';
import { RewardLog, type LogRecord } from './log.js';
import { newStreamNonce, STREAM_AUTH_HEADER, STREAM_NONCE_HEADER, verifyBatch, verifyStream } from './stream-auth.js';
import { ErrorCodes } from '../util/errors.js';

/** A stream with this many batches waiting to be written is paused (flow control). */
export const MAX_PENDING_BATCHES_PER_STREAM = 64;
export const AGGREGATOR_SHUTDOWN_GRACE_MS = 2_000;
const MAX_ID_LENGTH = 512;
const MAX_NAME_LENGTH = 256;
/** Distinct route/arm pairs and replicas the summary tracks (the stream is not authenticated); the rest count under `_other`. */
export const MAX_SUMMARY_KEYS = 1_000;
const OTHER = '_other';

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

export interface AggregatorSummary {
  rewards: number;
  duplicates: number;
  invalid: number;
  dedupe_ids: number;
  streams: number;
  /** route → arm → plain count and sum of every logged reward. */
  routes: Record<string, Record<string, { n: number; sum: number }>>;
  replicas: Record<string, number>;
  fleet_slots: string[];
}

interface AggregatorMetrics {
  ingested: Counter<'outcome'>;
  authFailures: Counter<'reason'>;
  streams: Gauge;
  logBytes: Gauge;
}

export class AggregatorServer {
  readonly fleet: FleetView;
  readonly metrics: Metrics;
  readonly log: RewardLog;
  private readonly dedupe: DedupeIndex;
  private readonly grpcServer: grpc.Server;
  private readonly extra: AggregatorMetrics;
  private readonly clock: Clock;
  private readonly admin: AdminServer | null;
  private gossipNode: GossipNode | null = null;
  private gossipServer: GossipServer | null = null;
  private readonly transport = new GrpcGossipTransport();
  private secret: Buffer | null = null;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private listening = false;
  private stopped = false;
  private readonly counts: AggregatorSummary = { rewards: 0, duplicates: 0, invalid: 0, dedupe_ids: 0, streams: 0, routes: {}, replicas: {}, fleet_slots: [] };
  private readonly snapshotFile: string;
  private pairs = 0;
  addresses = { aggregator: '', admin: '', gossip: '' };

  constructor(private readonly o: AggregatorServerOptions) {
    const agg = o.config.aggregator;
    if (!agg?.log_file) throw new Error('aggregator.log_file is required to run the aggregator');
    this.clock = o.clock ?? systemClock;
    this.fleet = new FleetView(o.config.replica_id, this.clock, o.config.state.slot_expiry_ms);
    this.log = new RewardLog(agg.log_file, agg.fsync, {
      failed: (err, rejected) => {
        this.extra.ingested.inc({ outcome: 'write_failed' }, rejected);
        o.logger.error({ err: err.message, code: (err as NodeJS.ErrnoException).code, rejected_rewards: rejected, file: agg.log_file }, 'reward log write failed; batches refused (replicas keep and resend them); probing the disk');
      },
      recovered: (downMs) => o.logger.warn({ down_ms: downMs, file: agg.log_file }, 'reward log writable again; accepting batches'),
      rotated: (file) => o.logger.info({ file, keep: agg.log_keep }, 'reward log rotated'),
    }, { maxBytes: agg.log_max_bytes, keep: agg.log_keep });
    this.snapshotFile = fleetFileOf(agg.log_file);
    const d = o.dedupe ?? DEDUPE_DEFAULTS;
    this.dedupe = new DedupeIndex(d.horizonMs, d.maxIds);
    const registry = o.registry ?? new Registry();
    this.metrics = createMetrics(registry, { processMetrics: o.registry === undefined });
    const r = [registry];
    this.extra = {
      ingested: new Counter({ name: 'envoy_bandit_aggregator_ingested_total', help: 'Rewards received by the aggregator by outcome.', labelNames: ['outcome'], registers: r }),
      authFailures: new Counter({
        name: 'envoy_bandit_aggregator_auth_failures_total',
        help: 'Reward streams and batches refused as not authentic, by reason (stream_header, missing_mac, bad_mac, replica_mismatch, seq_replay).',
        labelNames: ['reason'],
        registers: r,
      }),
      streams: new Gauge({ name: 'envoy_bandit_aggregator_streams', help: 'Open reward streams from replicas.', registers: r }),
      logBytes: new Gauge({ name: 'envoy_bandit_aggregator_log_bytes', help: 'Size of the reward log.', registers: r }),
    };
    this.grpcServer = new grpc.Server(GRPC_SERVER_OPTIONS);
    this.grpcServer.addService(aggregatorProto().service, {
      Rewards: (call: grpc.ServerDuplexStream<WireRewardBatch, WireRewardAck>) => this.onStream(call),
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
    return { ...this.counts, dedupe_ids: this.dedupe.size, fleet_slots: Object.keys(this.fleet.snapshot().slots).sort() };
  }

  async start(): Promise<typeof this.addresses> {
    const { config, logger } = this.o;
    const agg = config.aggregator!;
    const t0 = Date.now();
    const now = this.clock.now();
    const replay = await this.log.open((r) => {
      const key = dedupeKey(r.decision_id);
      if (key !== null) this.dedupe.add(key, r.received_ms, now);
      this.countRecord(r);
    });
    this.extra.logBytes.set(this.log.bytes);
    logger.info({ file: agg.log_file, records: replay.records, bad_lines: replay.bad, torn_tail_cut: replay.truncatedTail, dedupe_ids: this.dedupe.size, ms: Date.now() - t0 }, 'reward log loaded');
    const fleet = await readFleetFile(this.snapshotFile);
    if (!fleet.ok) logger.error({ err: fleet.error.message }, 'fleet snapshot unreadable; starting from gossip');
    else if (fleet.value) {
      this.fleet.merge(fleet.value);
      logger.info({ file: this.snapshotFile, slots: Object.keys(fleet.value.slots).length }, 'fleet snapshot loaded');
    }
    // Before binding: reward streams must not be accepted unauthenticated while the secret loads.
    if (config.gossip) this.secret = await loadGossipSecret(config.gossip);
    const port = await bindServer(this.grpcServer, agg.address);
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
        transport: this.transport,
        clock: this.clock,
        rng: this.o.rng ?? createRng(randomSeed()),
        logger: logger.child({ component: 'gossip' }),
        metrics: this.metrics,
      });
      this.gossipServer = createGossipServer(this.gossipNode, g.listen, logger);
      this.addresses.gossip = (await this.gossipServer.start()).address;
      this.gossipNode.start();
    }
    this.snapshotTimer = setInterval(() => void this.writeSnapshot(), config.state.interval_ms);
    this.snapshotTimer.unref();
    if (this.admin) {
      const a = await this.admin.start();
      this.addresses.admin = `${a.host}:${a.port}`;
    }
    logger.info({ replica: this.fleet.id, ...this.addresses, fsync: agg.fsync }, 'envoy-bandit aggregator started');
    return this.addresses;
  }

  /** Graceful: stop taking streams (bounded), finish writes, persist the fleet view, close. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.snapshotTimer);
    await this.gossipNode?.stop();
    await this.gossipServer?.stop();
    await shutdownServer(this.grpcServer, AGGREGATOR_SHUTDOWN_GRACE_MS);
    this.transport.close();
    await this.log.close().catch((err: unknown) => this.o.logger.error({ err }, 'reward log close failed'));
    await this.writeSnapshot();
    await this.admin?.close();
    this.o.logger.info({ rewards: this.counts.rewards, duplicates: this.counts.duplicates }, 'envoy-bandit aggregator stopped');
  }

  private async writeSnapshot(): Promise<void> {
    try {
      await writeFleetFile(this.snapshotFile, this.fleet.snapshot());
    } catch (err) {
      this.o.logger.error({ err, file: this.snapshotFile }, 'fleet snapshot write failed');
    }
  }

  /** Refuses a stream or batch that is not authentic: counted by reason, logged, closed with a coded status. */
  private refuse(call: grpc.ServerDuplexStream<WireRewardBatch, WireRewardAck>, reason: string, message: string, code: grpc.status): void {
    this.extra.authFailures.inc({ reason });
    this.extra.ingested.inc({ outcome: 'unauthenticated' });
    this.o.logger.warn({ peer: call.getPeer(), reason, err: message, code: ErrorCodes.AGGREGATOR_AUTH }, 'reward stream refused: not authentic');
    call.emit('error', { code, details: `${ErrorCodes.AGGREGATOR_AUTH}: ${message}` });
  }

  private onStream(call: grpc.ServerDuplexStream<WireRewardBatch, WireRewardAck>): void {
    const peer = call.getPeer();
    let authenticated: string | null = null;
    const nonce = newStreamNonce();
    let lastSeq = 0;
    const secret = this.secret;
    if (secret) {
      const v = verifyStream(secret, call.metadata.get(STREAM_AUTH_HEADER)[0], this.clock.now());
      if ('error' in v) {
        this.refuse(call, 'stream_header', `reward stream not authenticated: ${v.error}`, grpc.status.UNAUTHENTICATED);
        return;
      }
      authenticated = v.replica;
      const md = new grpc.Metadata();
      md.set(STREAM_NONCE_HEADER, nonce);
      call.sendMetadata(md);
    }
    let chain: Promise<void> = Promise.resolve();
    let pending = 0;
    let failed = false;
    this.counts.streams++;
    this.extra.streams.set(this.counts.streams);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.counts.streams--;
      this.extra.streams.set(this.counts.streams);
    };
    call.on('data', (batch: WireRewardBatch) => {
      if (failed) return;
      if (secret && authenticated !== null) {
        const bad = verifyBatch(secret, nonce, authenticated, lastSeq, batch);
        if (bad) {
          failed = true;
          this.refuse(call, bad.reason, bad.message, bad.reason === 'replica_mismatch' ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED);
          return;
        }
        lastSeq = Number(batch.seq);
      }
      pending++;
      if (pending >= MAX_PENDING_BATCHES_PER_STREAM) call.pause();
      // Dedupe runs now, in arrival order, and the append joins the log's queue at once,
      // so a stream's pipelined batches share group commits; acks still leave in order.
      const ingested = this.ingest(batch);
      ingested.catch(() => undefined);
      chain = chain.then(async () => {
        if (failed) return;
        try {
          const ack = await ingested;
          if (!call.cancelled && !call.destroyed) call.write(ack);
        } catch (e) {
          failed = true;
          const code = (e as { grpcCode?: number }).grpcCode ?? grpc.status.UNAVAILABLE;
          this.o.logger.error({ err: (e as Error).message, peer }, 'reward batch not accepted');
          call.emit('error', { code, details: (e as Error).message });
        } finally {
          pending--;
          if (call.isPaused() && pending < MAX_PENDING_BATCHES_PER_STREAM / 2) call.resume();
        }
      });
    });
    call.on('end', () => {
      void chain.then(() => {
        if (!failed && !call.destroyed) call.end();
        close();
      });
    });
    call.on('cancelled', close);
    call.on('error', close);
    call.on('close', close);
  }

  /** Dedupe, log (durably, per policy), count; the ack for `batch`. */
  async ingest(batch: WireRewardBatch): Promise<WireRewardAck> {
    if (typeof batch.replica !== 'string' || batch.replica === '' || batch.replica.length > MAX_NAME_LENGTH) {
      throw Object.assign(new Error(`${ErrorCodes.AGGREGATOR_INVALID}: RewardBatch.replica is required (1..${MAX_NAME_LENGTH} characters)`), { grpcCode: grpc.status.INVALID_ARGUMENT });
    }
    if (this.log.failed) {
      throw Object.assign(new Error(`${ErrorCodes.AGGREGATOR_UNAVAILABLE}: reward log not writable (${this.log.failed.message}); retry later`), { grpcCode: grpc.status.UNAVAILABLE });
    }
    const received = this.clock.now();
    const lines: string[] = [];
    const keys: string[] = [];
    const records: LogRecord[] = [];
    let duplicates = 0;
    let invalid = 0;
    for (const r of batch.rewards ?? []) {
      const key = validReward(r) ? dedupeKey(r.decision_id) : null;
      if (key === null) {
        invalid++;
        continue;
      }
      if (this.dedupe.has(key)) {
        duplicates++;
        continue;
      }
      this.dedupe.add(key, received);
      keys.push(key);
      const rec: LogRecord = { decision_id: r.decision_id, route: r.route, arm: r.arm, reward: r.reward, source: r.source, time_ms: r.time_ms, replica: batch.replica, received_ms: received };
      records.push(rec);
      lines.push(JSON.stringify(rec));
    }
    // Even a batch of duplicates waits for the writes before it: its originals may still be in flight.
    try {
      await this.log.append(lines);
    } catch (e) {
      // Not written, not acked: the replica resends, and the resend must be logged, not called a duplicate.
      for (const k of keys) this.dedupe.delete(k);
      throw Object.assign(new Error(`${ErrorCodes.AGGREGATOR_UNAVAILABLE}: reward log write failed: ${(e as Error).message}`), { grpcCode: grpc.status.UNAVAILABLE });
    }
    for (const rec of records) this.countRecord(rec);
    this.counts.duplicates += duplicates;
    this.counts.invalid += invalid;
    if (records.length) this.extra.ingested.inc({ outcome: 'accepted' }, records.length);
    if (duplicates) this.extra.ingested.inc({ outcome: 'duplicate' }, duplicates);
    if (invalid) this.extra.ingested.inc({ outcome: 'invalid' }, invalid);
    this.extra.logBytes.set(this.log.bytes);
    return { seq: batch.seq, accepted: records.length, duplicates };
  }

  private countRecord(r: LogRecord): void {
    this.counts.rewards++;
    let arms = this.counts.routes[r.route];
    let arm = r.arm;
    if (!arms) {
      if (this.pairs >= MAX_SUMMARY_KEYS) arms = this.counts.routes[OTHER] ??= {};
      else arms = this.counts.routes[r.route] = {};
    }
    if (!arms[arm] && this.pairs >= MAX_SUMMARY_KEYS) arm = OTHER;
    let a = arms[arm];
    if (!a) {
      a = arms[arm] = { n: 0, sum: 0 };
      this.pairs++;
    }
    a.n++;
    a.sum += r.reward;
    const rep = this.counts.replicas[r.replica] !== undefined || Object.keys(this.counts.replicas).length < MAX_SUMMARY_KEYS ? r.replica : OTHER;
    this.counts.replicas[rep] = (this.counts.replicas[rep] ?? 0) + 1;
  }
}

function validReward(r: WireReward | undefined): r is WireReward {
  return (
    !!r &&
    typeof r.decision_id === 'string' &&
    r.decision_id !== '' &&
    r.decision_id.length <= MAX_ID_LENGTH &&
    typeof r.route === 'string' &&
    r.route !== '' &&
    r.route.length <= MAX_NAME_LENGTH &&
    typeof r.arm === 'string' &&
    r.arm !== '' &&
    r.arm.length <= MAX_NAME_LENGTH &&
    typeof r.reward === 'number' &&
    r.reward >= 0 &&
    r.reward <= 1
  );
}
