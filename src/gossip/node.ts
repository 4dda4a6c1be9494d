/**
 * A gossip member: every interval it exchanges snapshots push-pull with
 * `fanout` random peers and merges the answers; its server side merges what
 * it receives and answers with its merged snapshot. Anti-entropy over a
 * CRDT: N members converge in O(log N) rounds (see bench/gossip.ts).
 *
 * Readiness (and the end of own-slot adoption, see ReplicaState.merge) comes
 * once a fanout's worth of distinct peers has answered (one peer may lag, and
 * what it holds of our own slot would then be adopted as final), or when the
 * sync timeout passes. The aggregator's GetSnapshot is merged at start but
 * counts as the sync only when no gossip peers are configured.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock } from '../util/clock.js';
import type { Rng } from '../util/rng.js';
import { DEFAULT_MAX_SKEW_MS, GossipRejection } from './envelope.js';
import { encodeMessage, verifyMessage, type VerifiedMessage } from './message.js';
import { Membership } from './membership.js';
import { pickRandom, resolvePeers, systemResolver, type DnsResolver } from './peers.js';
import type { WireGossipMessage } from './proto.js';
import type { GossipState } from './state.js';
import type { GossipTransport } from './transport.js';
import { admitSnapshot } from './admit.js';
import { encodeFeedbackMessage, verifyFeedbackMessage, type WireFeedbackMessage } from './feedback-message.js';
import type { Snapshot } from '../state/snapshot.js';
import type { Result } from '../util/errors.js';
import { ok, err } from '../util/errors.js';

/** Exchange deadline: the interval, within these bounds. */
export const MIN_EXCHANGE_TIMEOUT_MS = 250;
export const MAX_EXCHANGE_TIMEOUT_MS = 2_000;
/** A member we have not heard from for this many intervals (at least SILENT_MIN_MS) has left. */
export const SILENT_INTERVALS = 20;
export const SILENT_MIN_MS = 5_000;
/** The last push as a member stops goes to this many peers at least (one could be down or slow). */
export const FINAL_PUSH_FANOUT = 3;
/**
 * Deadline of a feedback forward. Longer than a gossip exchange's: a client
 * is waiting for the issuer's verdict, and a miss means it must retry.
 */
export const FEEDBACK_FORWARD_TIMEOUT_MS = 2_000;
/** Looking for a replica we have never called: at most this many unknown peer addresses, once per interval. */
export const MAX_DISCOVERY_EXCHANGES = 16;

/** Settles feedback forwarded to this replica: the answer body, or why the batch was refused. */
export type FeedbackHandler = (body: unknown, from: string) => unknown;

export type GossipMetrics = Pick<Metrics, 'gossipRounds' | 'gossipPeers' | 'stateStaleness' | 'gossipDropped'>;

export interface GossipNodeOptions {
  state: GossipState;
  peers: readonly string[];
  dns: string | null;
  /** Our own gossip address (excluded from the peer list). */
  listen: string;
  intervalMs: number;
  fanout: number;
  syncTimeoutMs: number;
  secret: Buffer | null;
  transport: GossipTransport;
  clock: Clock;
  rng: Rng;
  logger: Logger;
  metrics: GossipMetrics | null;
  resolver?: DnsResolver;
  /** Fetches a bootstrap snapshot (the aggregator's GetSnapshot); raw message, verified here. */
  bootstrap?: (() => Promise<unknown>) | null;
  maxSkewMs?: number;
}

export interface RoundResult {
  attempted: number;
  ok: number;
  failed: number;
}

export class GossipNode {
  readonly membership: Membership;
  private timer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private running = false;
  private synced = false;
  private startedAt = 0;
  /** Addresses whose answer came from ourselves (e.g. our own DNS record). */
  private readonly self = new Set<string>();
  private lastDnsError: string | null = null;
  private roundInFlight: Promise<RoundResult> | null = null;
  /** Distinct peers that answered us since start (readiness). */
  private readonly syncedWith = new Set<string>();
  /** Settles feedback other replicas forward to us (the sidecar's feedback manager); null refuses it. */
  feedbackHandler: FeedbackHandler | null = null;
  private discovery: Promise<void> | null = null;
  private lastDiscovery = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: GossipNodeOptions) {
    this.membership = new Membership(o.logger, Math.max(SILENT_MIN_MS, SILENT_INTERVALS * o.intervalMs));
  }

  get hasPeerSources(): boolean {
    return this.o.peers.length > 0 || this.o.dns !== null || !!this.o.bootstrap;
  }

  /** Starts rounds (first one now) and the sync timeout; tries the bootstrap once. */
  start(): void {
    this.running = true;
    this.startedAt = this.o.clock.now();
    if (!this.hasPeerSources) {
      this.markSynced('no peers configured');
    } else {
      this.syncTimer = setTimeout(() => this.markSynced('sync timeout passed', true), this.o.syncTimeoutMs);
      this.syncTimer.unref();
      if (this.o.bootstrap) void this.runBootstrap();
    }
    if (this.o.peers.length > 0 || this.o.dns !== null) this.schedule(0);
  }

  /**
   * Stops the rounds after one last push-pull (to FINAL_PUSH_FANOUT peers), so what this member wrote while
   * stopping (a replica's shutdown defaults, its last rewards) reaches its peers
   * rather than only its snapshot file and the aggregator.
   */
  async stop(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.syncTimer);
    await this.roundInFlight?.catch(() => undefined);
    if (wasRunning && (this.o.peers.length > 0 || this.o.dns !== null)) await this.round(Math.max(this.o.fanout, FINAL_PUSH_FANOUT)).catch(() => undefined);
  }

  readiness(): true | string {
    if (this.synced) return true;
    const left = Math.max(0, this.o.syncTimeoutMs - (this.o.clock.now() - this.startedAt));
    return `waiting for the first state sync from a peer (at most ${left} ms more)`;
  }

  get isSynced(): boolean {
    return this.synced;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.roundInFlight = this.round();
      void this.roundInFlight.finally(() => {
        this.roundInFlight = null;
        this.schedule(this.o.intervalMs);
      });
    }, ms);
    this.timer.unref();
  }

  private markSynced(how: string, timedOut = false): void {
    if (this.synced) return;
    this.synced = true;
    clearTimeout(this.syncTimer);
    this.o.state.syncDone();
    const log = { how, after_ms: this.o.clock.now() - this.startedAt };
    if (timedOut) this.o.logger.warn(log, 'first state sync did not complete in time; ready anyway');
    else this.o.logger.info(log, 'first state sync done');
  }

  private async runBootstrap(): Promise<void> {
    const bootstrap = this.o.bootstrap;
    if (!bootstrap) return;
    try {
      const raw = await bootstrap();
      const v = verifyMessage(raw, 'pull', this.o.secret, this.o.clock.now(), this.o.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
      if (!v.ok) {
        this.o.logger.warn({ code: v.error.code, reason: v.error.message }, 'aggregator bootstrap snapshot rejected');
        return;
      }
      this.admitAndMerge(v.value.snapshot, 'aggregator');
      // The aggregator may lag the fleet: with gossip peers, their answers decide when adoption closes.
      if (this.o.peers.length === 0 && this.o.dns === null) this.markSynced('aggregator snapshot');
      else this.o.logger.info({ slots: Object.keys(v.value.snapshot.slots).length }, 'bootstrap snapshot from the aggregator merged');
    } catch (e) {
      this.o.logger.warn({ err: (e as Error).message }, 'aggregator bootstrap failed; waiting for gossip');
    }
  }

  /** One round: resolve, pick, exchange push-pull with each pick concurrently, merge answers. */
  async round(fanout = this.o.fanout): Promise<RoundResult> {
    const { addresses, dnsError } = await resolvePeers(this.o.peers, this.o.dns, this.o.listen, this.o.resolver ?? systemResolver);
    if (dnsError !== this.lastDnsError) {
      if (dnsError) this.o.logger.warn({ dns: this.o.dns, err: dnsError }, 'gossip DNS lookup failed');
      else if (this.lastDnsError) this.o.logger.info({ dns: this.o.dns }, 'gossip DNS lookup works again');
      this.lastDnsError = dnsError;
    }
    const candidates = addresses.filter((a) => !this.self.has(a));
    const keep = new Set(candidates);
    this.o.transport.retain(keep);
    this.membership.retain(keep);
    const picks = pickRandom(candidates, fanout, this.o.rng);
    const results = await Promise.all(picks.map((a) => this.exchangeWith(a)));
    const now = this.o.clock.now();
    this.membership.sweep(now);
    this.publishGauges(now);
    const okCount = results.filter(Boolean).length;
    // One answer could come from a peer that lags (our own slot included): wait for a fanout's worth.
    if (this.syncedWith.size >= Math.min(this.o.fanout, candidates.length)) this.markSynced(`exchanges with ${[...this.syncedWith].join(', ')}`);
    return { attempted: picks.length, ok: okCount, failed: picks.length - okCount };
  }

  private get exchangeTimeoutMs(): number {
    return Math.min(MAX_EXCHANGE_TIMEOUT_MS, Math.max(MIN_EXCHANGE_TIMEOUT_MS, this.o.intervalMs));
  }

  private async exchangeWith(address: string): Promise<boolean> {
    const m = this.o.metrics;
    const timeout = this.exchangeTimeoutMs;
    let raw: unknown;
    try {
      raw = await this.o.transport.exchange(address, encodeMessage('push', this.o.state.id, this.o.state.snapshot(), this.o.clock.now(), this.o.secret), timeout);
    } catch (e) {
      const code = (e as { code?: number }).code;
      // The peer rejected our MAC or timestamp: a config problem worth its own outcome.
      const outcome = code === 16 /* UNAUTHENTICATED */ ? 'auth_rejected' : 'failed';
      m?.gossipRounds.inc({ outcome });
      this.membership.failure(address, (e as Error).message);
      return false;
    }
    const v = verifyMessage(raw, 'pull', this.o.secret, this.o.clock.now(), this.o.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
    if (!v.ok) {
      this.countRejection(v.error, address);
      this.membership.failure(address, v.error.message);
      return false;
    }
    if (v.value.sender === this.o.state.id) {
      this.self.add(address);
      return false;
    }
    this.admitAndMerge(v.value.snapshot, v.value.sender);
    m?.gossipRounds.inc({ outcome: 'ok' });
    this.membership.contact(v.value.sender, address, this.o.clock.now());
    this.syncedWith.add(v.value.sender);
    return true;
  }

  /** Caps what one message may bring in (admit.ts), counts what was left out, merges the rest. */
  private admitAndMerge(snapshot: Snapshot, from: string): void {
    const a = admitSnapshot(snapshot, this.o.clock.now(), this.o.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
    const reasons = Object.entries(a.dropped);
    if (reasons.length) {
      for (const [reason, n] of reasons) this.o.metrics?.gossipDropped.inc({ reason }, n);
      this.o.logger.warn({ from, dropped: a.dropped }, 'gossip message over its caps; the excess was left out');
    }
    this.o.state.merge(a.snapshot);
  }

  private countRejection(e: GossipRejection, from: string): void {
    this.o.metrics?.gossipRounds.inc({ outcome: e.reason === 'invalid' ? 'invalid' : e.reason === 'stale' ? 'stale' : 'auth_failed' });
    this.o.logger.warn({ code: e.code, from, reason: e.message }, 'gossip message rejected');
  }

  /**
   * Server side: verifies a push, merges it and returns our signed answer,
   * or the rejection (the server maps it to a gRPC status).
   */
  handlePush(raw: unknown, from: string): Result<WireGossipMessage, GossipRejection> {
    const v: Result<VerifiedMessage, GossipRejection> = verifyMessage(raw, 'push', this.o.secret, this.o.clock.now(), this.o.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
    if (!v.ok) {
      this.countRejection(v.error, from);
      return err(v.error);
    }
    if (v.value.sender !== this.o.state.id) {
      this.admitAndMerge(v.value.snapshot, v.value.sender);
      this.membership.contact(v.value.sender, null, this.o.clock.now());
      this.o.metrics?.gossipRounds.inc({ outcome: 'served' });
    }
    return ok(encodeMessage('pull', this.o.state.id, this.o.state.snapshot(), this.o.clock.now(), this.o.secret));
  }

  /**
   * Forwards a feedback body to the replica that issued its decisions and
   * returns its answer body, or why it could not be asked. The issuer's
   * address is where it last answered a gossip exchange of ours; a replica we
   * never called is looked for among the peer addresses we cannot name yet.
   */
  async forwardFeedback(issuer: string, body: unknown): Promise<Result<unknown, string>> {
    let address = this.o.state.id === issuer ? null : this.membership.addressOf(issuer);
    if (address === null && this.o.state.id !== issuer) {
      await this.discover();
      address = this.membership.addressOf(issuer);
    }
    if (address === null) {
      const st = this.membership.stateOf(issuer);
      return err(st === 'left' ? `replica "${issuer}" has left the gossip mesh` : `replica "${issuer}" is not in the gossip mesh`);
    }
    let raw: unknown;
    try {
      raw = await this.o.transport.feedback(address, encodeFeedbackMessage('forward', this.o.state.id, issuer, body, this.o.clock.now(), this.o.secret), FEEDBACK_FORWARD_TIMEOUT_MS);
    } catch (e) {
      return err(`replica "${issuer}" at ${address}: ${(e as Error).message}`);
    }
    const v = verifyFeedbackMessage(raw, 'answer', this.o.state.id, this.o.secret, this.o.clock.now(), this.o.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
    if (!v.ok) return err(`replica "${issuer}" at ${address}: its answer was rejected: ${v.error.message}`);
    if (v.value.sender !== issuer) return err(`${address} answered as "${v.value.sender}", not "${issuer}"`);
    return ok(v.value.body);
  }

  /** One exchange with each peer address not known as a live replica (bounded; once per interval). */
  private discover(): Promise<void> {
    if (this.discovery) return this.discovery;
    const now = this.o.clock.now();
    if (now - this.lastDiscovery < this.o.intervalMs) return Promise.resolve();
    this.lastDiscovery = now;
    this.discovery = (async () => {
      const { addresses } = await resolvePeers(this.o.peers, this.o.dns, this.o.listen, this.o.resolver ?? systemResolver);
      const unknown = addresses.filter((a) => !this.self.has(a) && !this.membership.knowsLiveReplicaAt(a));
      await Promise.all(pickRandom(unknown, MAX_DISCOVERY_EXCHANGES, this.o.rng).map((a) => this.exchangeWith(a)));
    })().finally(() => {
      this.discovery = null;
    });
    return this.discovery;
  }

  /** Server side of forwarded feedback: verifies it is for us, settles it, signs the answer. */
  handleFeedback(raw: unknown, from: string): Result<WireFeedbackMessage, GossipRejection> {
    const v = verifyFeedbackMessage(raw, 'forward', this.o.state.id, this.o.secret, this.o.clock.now(), this.o.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
    if (!v.ok) {
      this.countRejection(v.error, from);
      return err(v.error);
    }
    if (!this.feedbackHandler) return err(new GossipRejection('invalid', `"${this.o.state.id}" settles no feedback (not a sidecar replica)`));
    const answer = this.feedbackHandler(v.value.body, v.value.sender);
    if (typeof answer === 'string') return err(new GossipRejection('invalid', answer));
    return ok(encodeFeedbackMessage('answer', this.o.state.id, v.value.sender, answer, this.o.clock.now(), this.o.secret));
  }

  private publishGauges(now: number): void {
    const m = this.o.metrics;
    if (!m) return;
    const c = this.membership.counts();
    m.gossipPeers.set({ state: 'alive' }, c.alive);
    m.gossipPeers.set({ state: 'suspect' }, c.suspect);
    // Expired peers leave the gauge with their slot (a rollout must not leave a series per dead pod).
    m.stateStaleness.reset();
    for (const p of this.o.state.peers()) {
      if (p.heardAt > 0) m.stateStaleness.set({ peer: p.replica }, Math.max(0, (now - p.heardAt) / 1000));
    }
  }
}
