/**
 * Turns published events into notices and hands them to every target.
 *
 * Who reports a fleet event (a guardrail trip or release): several replicas
 * may trip the same arm within a gossip round. Each trip writes the arm's
 * fleet-wide quarantine record (last writer wins), and records reach every
 * replica. A replica that trips waits `settle` (default 2 s, two gossip
 * rounds) and then reports only if the record in force is its own. So
 * exactly one replica reports a trip, whichever replicas see it, without
 * electing anybody; its notice carries its own readings. A release after probation is reported by
 * the replica that reported the trip. Fallback: a replica that has not heard
 * an earlier peer's flag within `settle` (partition, gossip off) reports too —
 * duplicates rather than silence; receivers may deduplicate on `id`
 * (route/arm/trip time). If the reporting replica dies before its release, the
 * release is not reported (Alertmanager still resolves the alert at the
 * cooldown's end, `endsAt`). Local events (an operator's call, a reload) are
 * reported by the replica they happened on.
 */
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import { severityOf, summaryOf, type BanditEvent, type Notice } from './events.js';
import type { Delivery } from './delivery.js';

/** Flags on an arm as the replica sees them now: who raised each, and when. */
export type FlagsOf = (route: string, arm: string) => ReadonlyArray<{ replica: string; since: number; rule: string }>;

/** An operator's quarantine: reported by the replica that took the call, not here. */
const MANUAL_RULE = 'manual';

export interface NotifierOptions {
  replica: string;
  clock: Clock;
  settleMs: number;
  flags: FlagsOf;
  logger: Logger;
}

export class Notifier {
  /** (route, arm) → whether this replica reported the current quarantine episode. */
  private readonly reported = new Map<string, boolean>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly o: NotifierOptions,
    private readonly deliveries: readonly Delivery[],
  ) {}

  get targets(): readonly Delivery[] {
    return this.deliveries;
  }

  /** The bus listener: O(1), never waits. */
  onEvent(e: BanditEvent): void {
    if (this.deliveries.length === 0) return;
    const now = this.o.clock.now();
    if (e.scope === 'local') return this.emit(e, now);
    const key = `${e.route}\u0000${e.arm}`;
    if (e.kind === 'release') {
      if (this.reported.get(key) === true) this.emit(e, now);
      this.reported.delete(key);
      return;
    }
    if (e.origin === 'peer') {
      // someone else's trip (or an operator's call): not ours to report, nor its release
      this.reported.set(key, false);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const mine = this.ownsTrip(e.route, e.arm);
      this.reported.set(key, mine);
      if (mine) this.emit(e, e.since);
    }, this.o.settleMs);
    timer.unref();
    this.timers.add(timer);
  }

  /**
   * After `settle`: the trip is ours to report when the quarantine record in
   * force on the arm is ours. Guardrail quarantines are one fleet-wide record
   * per arm, last writer wins, so after gossip converges exactly one replica's
   * trip survives; where several flags are in force (per-replica flags), the
   * oldest wins (ties: the smaller replica id). None in force (released
   * meanwhile): we tripped and nobody superseded us, so we report.
   */
  private ownsTrip(route: string, arm: string): boolean {
    const me = this.o.replica;
    const flags = this.o.flags(route, arm).filter((f) => f.rule !== MANUAL_RULE);
    const [first, ...rest] = flags;
    if (first === undefined) return true;
    let winner = first;
    for (const f of rest) if (f.since < winner.since || (f.since === winner.since && f.replica < winner.replica)) winner = f;
    return winner.replica === me;
  }

  private emit(e: BanditEvent, time: number): void {
    const notice: Notice = { id: noticeId(e, time, this.o.replica), event: e, replica: this.o.replica, time, severity: severityOf(e), summary: summaryOf(e) };
    for (const d of this.deliveries) d.enqueue(notice);
  }

  async stop(graceMs: number): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.deliveries.map((d) => d.stop(graceMs)));
  }
}

function noticeId(e: BanditEvent, time: number, replica: string): string {
  const parts: string[] = [e.kind];
  if ('route' in e) parts.push(e.route);
  if ('arm' in e) parts.push(e.arm);
  if (e.kind === 'quarantine' || e.kind === 'probe_failed') parts.push(String(e.scope === 'fleet' ? e.since : time));
  else parts.push(String(time), replica);
  return parts.join('/');
}
