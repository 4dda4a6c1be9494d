/**
 * The replica side of the reward stream. Every reward the engine applies is
 * appended to an open batch (O(1), no I/O on the request path); batches are
 * sealed by size (`batch`) or age (`flush_ms`), numbered, and sent on one
 * long-lived gRPC stream. The aggregator acks cumulatively by seq once a batch
 * is durable. Unacked batches survive a broken stream and are resent, in
 * order, after a reconnect with exponential backoff and full jitter. At most
 * `buffer` rewards wait in memory; past that the oldest waiting one is dropped
 * and counted. Outcomes: sent, acked, retried (resent), dropped.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import type { RewardEvent } from '../engine/engine.js';
import type { Clock } from '../util/clock.js';
import type { Rng } from '../util/rng.js';
import type { WireReward, WireRewardAck, WireRewardBatch } from './proto.js';
import { BanditError, ErrorCodes } from '../util/errors.js';

export const REWARD_STREAM_DEFAULTS = {
  backoffBaseMs: 100,
  backoffMaxMs: 5_000,
  /** Batches on the wire without an ack (flow control). */
  maxInFlight: 16,
  /** A stream whose oldest batch waits longer than this for its ack is torn down and redone. */
  ackTimeoutMs: 10_000,
  /** Bounded wait for the last acks on stop (the SIGTERM drain). */
  stopTimeoutMs: 2_000,
} as const;

export interface RewardConnectionHandlers {
  onAck(ack: WireRewardAck): void;
  /** The stream ended or failed; called at most once per connection. */
  onClose(error: Error | null): void;
}

export interface RewardConnection {
  send(batch: WireRewardBatch): void;
  /** Half-close (no more batches). */
  end(): void;
  cancel(): void;
}

export type RewardConnector = (h: RewardConnectionHandlers) => RewardConnection;

export type RewardStreamMetrics = Pick<Metrics, 'aggregatorRewards' | 'aggregatorBuffer'>;

export interface RewardStreamOptions {
  replica: string;
  batch: number;
  flushMs: number;
  buffer: number;
  connect: RewardConnector;
  clock: Clock;
  rng: Rng;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  metrics: RewardStreamMetrics | null;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  maxInFlight?: number;
  ackTimeoutMs?: number;
}

interface Batch {
  seq: number;
  rewards: WireReward[];
  sends: number;
  sentAt: number;
}

export interface RewardStreamStats {
  buffered: number;
  sent: number;
  acked: number;
  retried: number;
  dropped: number;
  connected: boolean;
  nextSeq: number;
}

/** Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, rng: Rng): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(rng.next() * cap);
}

export class RewardStreamClient {
  private open: WireReward[] = [];
  private queue: Batch[] = [];
  private inflight: Batch[] = [];
  private buffered = 0;
  private seq = 0;
  private conn: RewardConnection | null = null;
  private attempt = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private stopping = false;
  private stopped = false;
  private outage = false;
  private drained: (() => void) | null = null;
  readonly counts = { sent: 0, acked: 0, retried: 0, dropped: 0 };
  private readonly o: Required<Omit<RewardStreamOptions, 'metrics'>> & { metrics: RewardStreamMetrics | null };

  constructor(opts: RewardStreamOptions) {
    this.o = {
      backoffBaseMs: REWARD_STREAM_DEFAULTS.backoffBaseMs,
      backoffMaxMs: REWARD_STREAM_DEFAULTS.backoffMaxMs,
      maxInFlight: REWARD_STREAM_DEFAULTS.maxInFlight,
      ackTimeoutMs: REWARD_STREAM_DEFAULTS.ackTimeoutMs,
      ...opts,
    };
  }

  start(): void {
    this.watchdog = setInterval(() => this.checkAcks(), Math.max(50, Math.floor(this.o.ackTimeoutMs / 4)));
    this.watchdog.unref();
  }

  /** The engine observer: called on the request path; never throws, never blocks. */
  offer(e: RewardEvent): void {
    if (this.stopped) return;
    try {
      this.open.push({ decision_id: e.decisionId, route: e.route, arm: e.arm, reward: e.reward, source: e.source, time_ms: e.time });
      this.buffered++;
      if (this.buffered > this.o.buffer) this.dropOldest();
      if (this.open.length >= this.o.batch) {
        this.seal();
        this.schedulePump();
      } else if (!this.flushTimer) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = undefined;
          this.seal();
          this.pump();
        }, this.o.flushMs);
        this.flushTimer.unref();
      }
    } catch (err) {
      this.o.logger.error({ err }, 'reward stream: could not buffer a reward');
    }
  }

  stats(): RewardStreamStats {
    return { buffered: this.buffered, ...this.counts, connected: this.conn !== null, nextSeq: this.seq + 1 };
  }

  /** Flushes and waits (bounded) for every buffered reward to be acked, then closes. */
  async stop(timeoutMs: number = REWARD_STREAM_DEFAULTS.stopTimeoutMs): Promise<RewardStreamStats> {
    if (this.stopped) return this.stats();
    this.stopping = true;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.seal();
    if (this.buffered > 0) {
      // Skip a pending backoff: this is the last chance to deliver.
      if (!this.conn && this.backoffTimer) {
        clearTimeout(this.backoffTimer);
        this.backoffTimer = undefined;
      }
      this.pump();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.drained = null;
    }
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.backoffTimer);
    const conn = this.conn;
    this.conn = null;
    conn?.end();
    conn?.cancel();
    if (this.buffered > 0) {
      this.o.logger.error({ undelivered: this.buffered }, 'reward stream stopped with unacked rewards; they are lost');
      this.count('dropped', this.buffered);
      this.open = [];
      this.queue = [];
      this.inflight = [];
      this.buffered = 0;
      this.gauge();
    }
    return this.stats();
  }

  private seal(): void {
    if (this.open.length === 0) return;
    this.queue.push({ seq: ++this.seq, rewards: this.open, sends: 0, sentAt: 0 });
    this.open = [];
  }

  /** Drops the oldest reward not on the wire (waiting batches first), else the oldest in flight. */
  private dropOldest(): void {
    const from = this.queue[0] ?? (this.open.length ? null : this.inflight[0]);
    if (from) {
      from.rewards.shift();
      if (from.rewards.length === 0) {
        if (from === this.queue[0]) this.queue.shift();
        else this.inflight.shift();
      }
    } else {
      this.open.shift();
    }
    this.buffered--;
    this.count('dropped', 1);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Off the request path: encoding and writing happen on a later tick.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.stopped) return;
    if (!this.conn) {
      if (!this.backoffTimer && this.queue.length > 0) this.connect();
      if (!this.conn) return;
    }
    const conn = this.conn;
    while (this.inflight.length < this.o.maxInFlight) {
      const b = this.queue.shift();
      if (b === undefined) break;
      if (b.sends > 0) this.count('retried', b.rewards.length);
      else this.count('sent', b.rewards.length);
      b.sends++;
      b.sentAt = this.o.clock.now();
      this.inflight.push(b);
      try {
        conn.send({ replica: this.o.replica, seq: b.seq, rewards: b.rewards });
      } catch (err) {
        this.o.logger.warn({ err }, 'reward stream: send failed');
        this.closed(conn, err as Error);
        return;
      }
    }
    this.gauge();
  }

  private connect(): void {
    let conn: RewardConnection | null = null;
    const handlers: RewardConnectionHandlers = {
      onAck: (ack) => {
        if (conn && conn === this.conn) this.acked(ack);
      },
      onClose: (error) => {
        if (conn) this.closed(conn, error);
      },
    };
    try {
      conn = this.o.connect(handlers);
    } catch (err) {
      this.o.logger.warn({ err }, 'reward stream: connect failed');
      this.scheduleReconnect();
      return;
    }
    this.conn = conn;
  }

  private acked(ack: WireRewardAck): void {
    let n = 0;
    for (let head = this.inflight[0]; head !== undefined && head.seq <= ack.seq; head = this.inflight[0]) {
      this.inflight.shift();
      n += head.rewards.length;
    }
    if (n > 0) {
      this.buffered -= n;
      this.count('acked', n);
    }
    this.attempt = 0;
    if (this.outage) {
      this.outage = false;
      this.o.logger.info({ buffered: this.buffered }, 'reward stream to the aggregator recovered');
    }
    this.gauge();
    if (this.buffered === 0) this.drained?.();
    this.pump();
  }

  private closed(conn: RewardConnection, error: Error | null): void {
    if (conn !== this.conn) return;
    this.conn = null;
    try {
      conn.cancel();
    } catch {
      // already closed
    }
    // Unacked batches go back to the front, in seq order, to be resent.
    if (this.inflight.length > 0) {
      this.queue = this.inflight.concat(this.queue);
      this.inflight = [];
    }
    if (this.stopped) return;
    if (!this.outage) {
      this.outage = true;
      this.o.logger.warn({ err: error?.message ?? 'stream ended', buffered: this.buffered }, 'reward stream to the aggregator lost; buffering and retrying');
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.backoffTimer || this.stopped) return;
    const delay = this.stopping ? 0 : backoffDelay(this.attempt, this.o.backoffBaseMs, this.o.backoffMaxMs, this.o.rng);
    this.attempt++;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.pump();
    }, delay);
    this.backoffTimer.unref();
  }

  private checkAcks(): void {
    const oldest = this.inflight[0];
    if (!oldest || !this.conn) return;
    if (this.o.clock.now() - oldest.sentAt > this.o.ackTimeoutMs) {
      this.o.logger.warn({ seq: oldest.seq, waited_ms: this.o.clock.now() - oldest.sentAt }, 'reward stream: ack overdue; reconnecting');
      this.closed(this.conn, new BanditError(ErrorCodes.AGGREGATOR_UNAVAILABLE, `ack timeout (${this.o.ackTimeoutMs} ms)`));
    }
  }

  private count(outcome: 'sent' | 'acked' | 'retried' | 'dropped', n: number): void {
    this.counts[outcome] += n;
    this.o.metrics?.aggregatorRewards.inc({ outcome }, n);
  }

  private gauge(): void {
    this.o.metrics?.aggregatorBuffer.set(this.buffered);
  }
}
