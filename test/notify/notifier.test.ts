/**
 * Who reports a fleet event: the replica whose quarantine flag on the arm is
 * the oldest (ties: smaller id) reports the trip and later its release; the
 * others stay quiet. Local events are reported by the replica they happen on.
 */
import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../src/notify/delivery.js';
import type { BanditEvent, Notice } from '../../src/notify/events.js';
import { Notifier } from '../../src/notify/notifier.js';
import { ManualClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';

const T = 1_700_000_000_000;

function rig(replica: string, flags: Array<{ replica: string; since: number; rule?: string }>) {
  const sent: Notice[] = [];
  const sink = { enqueue: (n: Notice) => sent.push(n), stop: () => Promise.resolve() } as unknown as Delivery;
  const n = new Notifier({ replica, clock: new ManualClock(T), settleMs: 20, flags: () => flags.map((f) => ({ rule: 'error_rate', ...f })), logger: silentLogger() }, [sink]);
  return { n, sent };
}

const trip = (since: number, origin: 'trip' | 'peer' = 'trip'): BanditEvent => ({
  kind: 'quarantine',
  scope: 'fleet',
  origin,
  route: 'chat',
  arm: 'b',
  rule: 'error_rate',
  since,
  until: since + 60_000,
  readings: [],
});
const release: BanditEvent = { kind: 'release', scope: 'fleet', route: 'chat', arm: 'b', how: 'probation_passed' };
const settle = () => new Promise((r) => setTimeout(r, 60));

describe('Notifier', () => {
  it('two replicas trip the same arm: only the older flag reports, and only it reports the release', async () => {
    const flags = [
      { replica: 'r1', since: T + 5 },
      { replica: 'r2', since: T },
    ];
    const r1 = rig('r1', flags);
    const r2 = rig('r2', flags);
    r1.n.onEvent(trip(T + 5));
    r2.n.onEvent(trip(T));
    await settle();
    expect(r1.sent).toHaveLength(0);
    expect(r2.sent.map((s) => s.id)).toEqual([`quarantine/chat/b/${T}`]);
    r1.n.onEvent(release);
    r2.n.onEvent(release);
    expect(r1.sent).toHaveLength(0);
    expect(r2.sent.map((s) => s.event.kind)).toEqual(['quarantine', 'release']);
  });

  it('one fleet-wide record per arm (last writer wins): the replica whose record survived reports', async () => {
    const record = [{ replica: 'r2', since: T + 5 }];
    const r1 = rig('r1', record);
    const r2 = rig('r2', record);
    r1.n.onEvent(trip(T));
    r2.n.onEvent(trip(T + 5));
    await settle();
    expect([r1.sent.length, r2.sent.length]).toEqual([0, 1]);
  });

  it('an operator quarantine in force does not take the report from the tripping replica', async () => {
    const r1 = rig('r1', [
      { replica: 'r9', since: T - 1, rule: 'manual' },
      { replica: 'r1', since: T },
    ]);
    r1.n.onEvent(trip(T));
    await settle();
    expect(r1.sent).toHaveLength(1);
  });

  it('equal trip times: the smaller replica id reports', async () => {
    const flags = [
      { replica: 'a', since: T },
      { replica: 'b', since: T },
    ];
    const a = rig('a', flags);
    const b = rig('b', flags);
    a.n.onEvent(trip(T));
    b.n.onEvent(trip(T));
    await settle();
    expect([a.sent.length, b.sent.length]).toEqual([1, 0]);
  });

  it('a quarantine by a peer is not reported, nor its release, even after an earlier own report', async () => {
    const mine = rig('r1', [{ replica: 'r1', since: T }]);
    mine.n.onEvent(trip(T));
    await settle();
    mine.n.onEvent(release);
    expect(mine.sent).toHaveLength(2);
    mine.n.onEvent(trip(T + 100_000, 'peer'));
    mine.n.onEvent(release);
    expect(mine.sent).toHaveLength(2);
  });

  it('local events (operator, reload) go out at once', () => {
    const { n, sent } = rig('r1', []);
    n.onEvent({ kind: 'pause', scope: 'local', route: 'chat', caller: '127.0.0.1 (token)' });
    n.onEvent({ kind: 'reload', scope: 'local', outcome: 'failure', issues: ['routes[0].arms: required'] });
    expect(sent.map((s) => [s.event.kind, s.severity])).toEqual([
      ['pause', 'info'],
      ['reload', 'warning'],
    ]);
  });
});
