/**
 * The fleet-wide parts of the replicated state, as laws: operator records
 * (last writer by hybrid logical clock, the same winner everywhere), expiry
 * with tombstones (commutes with merge; an old copy never comes back), and
 * time decay (a read-time function of (stats, updated_at), so any delivery
 * order gives the same view, and a dead replica's slot fades like a live one's).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareStamps } from '../../src/state/hlc.js';
import { ReplicaState } from '../../src/state/replica-state.js';
import { expireSnapshot, mergeSnapshots, type SlotSnapshot, type Snapshot } from '../../src/state/snapshot.js';
import { ManualClock } from '../../src/util/clock.js';

const IDS = ['r0', 'r1', 'r2'];
const ARMS = ['a', 'b'];
const HALF_LIFE = 1_000;
const T0 = 1_700_000_000_000;
const shapes = (drift: 'none' | 'half_life') => [{ name: 'chat', arms: ARMS, drift: drift === 'none' ? { mode: 'none' as const } : { mode: 'half_life' as const, half_life_ms: HALF_LIFE } }];
const stats = () => ({ n: 0, sum: 0, sumSq: 0 });

type Op =
  | { kind: 'act'; at: number; by: number; action: 'pause' | 'resume' | 'freeze' | 'quarantine' | 'release' }
  | { kind: 'record'; by: number; arm: number; reward: number }
  | { kind: 'gossip'; from: number; to: number }
  | { kind: 'tick'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('act' as const), at: fc.constant(0), by: fc.integer({ min: 0, max: 2 }), action: fc.constantFrom('pause', 'resume', 'freeze', 'quarantine', 'release') as fc.Arbitrary<'pause'> }),
  fc.record({ kind: fc.constant('record' as const), by: fc.integer({ min: 0, max: 2 }), arm: fc.integer({ min: 0, max: 1 }), reward: fc.constantFrom(0, 0.5, 1) }),
  fc.record({ kind: fc.constant('gossip' as const), from: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 400 }) }),
);

/** Replicas with their own clocks up to `skew` ms apart (the HLC must order actions anyway). */
function fleet(drift: 'none' | 'half_life', skews: readonly number[]) {
  const base = new ManualClock(T0);
  const clocks = skews.map((s) => ({ now: () => base.now() + s }));
  const rs = IDS.map((id, i) => new ReplicaState(id, shapes(drift), clocks[i]!, { slotExpiryMs: 3_600_000 }));
  for (const r of rs) r.closeAdoption();
  return { base, rs };
}

function apply(rs: ReplicaState[], base: ManualClock, op: Op): void {
  switch (op.kind) {
    case 'act': {
      const r = rs[op.by]!;
      if (op.action === 'quarantine') r.write({ kind: 'manual', route: 'chat', arm: 'b', state: 'quarantined' }, 'ops');
      else if (op.action === 'release') r.write({ kind: 'manual', route: 'chat', arm: 'b', state: 'released' }, 'ops');
      else r.write({ kind: 'mode', route: 'chat', mode: op.action === 'pause' ? 'paused' : op.action === 'freeze' ? 'frozen' : 'active' }, 'ops');
      return;
    }
    case 'record':
      rs[op.by]!.record(0, op.arm, op.reward);
      return;
    case 'gossip':
      if (op.from !== op.to) rs[op.to]!.merge(rs[op.from]!.snapshot());
      return;
    case 'tick':
      base.advance(op.ms);
  }
}

/** Everyone pushes to everyone, twice (full anti-entropy). */
function exchangeAll(rs: ReplicaState[]): void {
  for (let k = 0; k < 2; k++) for (const a of rs) for (const b of rs) if (a !== b) b.merge(a.snapshot());
}

describe('operator records: last writer by hybrid logical clock', () => {
  it('after any interleaving of actions and gossip, every replica agrees on the mode and the quarantine, and the winner is the greatest stamp', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.tuple(fc.integer({ min: -200, max: 200 }), fc.integer({ min: -200, max: 200 })), (ops, [s1, s2]) => {
        const { base, rs } = fleet('none', [0, s1, s2]);
        const written: Array<{ key: string; stamp: import('../../src/state/hlc.js').Stamp; mode?: string; state?: string }> = [];
        for (const op of ops) {
          apply(rs, base, op);
          if (op.kind === 'act') {
            const rec = rs[op.by]!.allRecords().at(-1)!;
            written.push({ key: rec.kind, stamp: rec.stamp, ...(rec.kind === 'mode' ? { mode: rec.mode } : {}), ...(rec.kind === 'manual' ? { state: rec.state } : {}) });
          }
        }
        exchangeAll(rs);
        const modes = rs.map((r) => r.modeOf('chat'));
        const quarantined = rs.map((r) => r.activeFlags('chat', 'b', base.now()).length > 0);
        expect(new Set(modes).size).toBe(1);
        expect(new Set(quarantined).size).toBe(1);
        const last = (kind: string) => written.filter((w) => w.key === kind).sort((x, y) => compareStamps(x.stamp, y.stamp)).at(-1);
        expect(modes[0]).toBe(last('mode')?.mode ?? 'active');
        expect(quarantined[0]).toBe(last('manual')?.state === 'quarantined');
      }),
      { numRuns: 200 },
    );
  });

  it('an action taken after seeing another replica’s record wins over it even when the actor’s clock is behind', () => {
    const { base, rs } = fleet('none', [0, -5_000, 0]);
    rs[0]!.write({ kind: 'mode', route: 'chat', mode: 'paused' }, 'alice');
    rs[1]!.merge(rs[0]!.snapshot());
    rs[1]!.write({ kind: 'mode', route: 'chat', mode: 'active' }, 'bob'); // its wall clock is 5 s behind
    exchangeAll(rs);
    expect(rs.map((r) => r.modeOf('chat'))).toEqual(['active', 'active', 'active']);
    expect(base.now()).toBe(T0);
  });

  it('a release on any replica lifts a quarantine raised by a replica that is gone, on every replica', () => {
    const { base, rs } = fleet('none', [0, 0, 0]);
    const gone = new ReplicaState('gone', shapes('none'), base);
    gone.write({ kind: 'guard', route: 'chat', arm: 'b', state: 'quarantined', rule: 'error_rate', until: T0 + 60_000 }, 'guardrail');
    gone.write({ kind: 'manual', route: 'chat', arm: 'a', state: 'quarantined' }, 'alice');
    for (const r of rs) r.merge(gone.snapshot());
    expect(rs.every((r) => r.activeFlags('chat', 'b', base.now()).length === 1 && r.activeFlags('chat', 'a', base.now()).length === 1)).toBe(true);
    rs[2]!.write({ kind: 'guard', route: 'chat', arm: 'b', state: 'released', rule: 'manual', until: 0 }, 'bob');
    rs[2]!.write({ kind: 'manual', route: 'chat', arm: 'a', state: 'released' }, 'bob');
    exchangeAll(rs);
    // A stale copy of the gone replica's state arriving late changes nothing.
    for (const r of rs) r.merge(gone.snapshot());
    expect(rs.map((r) => r.activeFlags('chat', 'b', base.now()).length + r.activeFlags('chat', 'a', base.now()).length)).toEqual([0, 0, 0]);
  });

  it('a reset on one replica empties the route everywhere, dead replicas’ slots included', () => {
    const { base, rs } = fleet('none', [0, 0, 0]);
    const dead = new ReplicaState('dead', shapes('none'), base);
    dead.record(0, 0, 1);
    for (const r of rs) {
      r.record(0, 0, 1);
      r.merge(dead.snapshot());
    }
    exchangeAll(rs);
    expect(rs[0]!.fleet(0, 0, stats()).n).toBe(4);
    rs[1]!.write({ kind: 'reset', route: 'chat' }, 'ops');
    exchangeAll(rs);
    expect(rs.map((r) => r.fleet(0, 0, stats()).n)).toEqual([0, 0, 0]);
    rs[2]!.record(0, 0, 1);
    exchangeAll(rs);
    expect(rs.map((r) => r.fleet(0, 0, stats()).n)).toEqual([1, 1, 1]);
  });
});

/** A replica's history with updated_at increasing with version (as an owner writes). */
const historyArb = (replica: string) =>
  fc.array(fc.integer({ min: 1, max: 3_000 }), { minLength: 1, maxLength: 6 }).map((gaps) => {
    let t = T0;
    return gaps.map((g, i): SlotSnapshot => {
      t += g;
      return { replica, version: i + 1, updated_at: t, routes: { chat: { a: { n: i + 1, sum: i, sumSq: i } } } };
    });
  });

describe('expiry and tombstones', () => {
  const EXPIRY = 4_000;
  const snapArb = fc.tuple(historyArb('r0'), historyArb('r1'), historyArb('r2')).chain((hs) =>
    fc.tuple(...[0, 1].map(() => fc.tuple(...hs.map((h) => fc.option(fc.constantFrom(...h), { nil: undefined }))))).map((picks) =>
      picks.map((p): Snapshot => ({ slots: Object.fromEntries(p.filter((s): s is SlotSnapshot => s !== undefined).map((s) => [s.replica, s])), records: {}, tombstones: {} })),
    ),
  );

  it('expiry commutes with merge at any time (expire(a ⊔ b) = expire(expire(a) ⊔ expire(b)))', () => {
    fc.assert(
      fc.property(snapArb, fc.integer({ min: 0, max: 20_000 }), ([a, b], dt) => {
        const now = T0 + dt;
        const direct = expireSnapshot(mergeSnapshots(a!, b!), now, EXPIRY);
        const staged = expireSnapshot(mergeSnapshots(expireSnapshot(a!, now, EXPIRY), expireSnapshot(b!, now, EXPIRY)), now, EXPIRY);
        expect(staged).toEqual(direct);
      }),
      { numRuns: 300 },
    );
  });

  it('a tombstone refuses every older copy of the slot; a newer write of the same replica passes', () => {
    fc.assert(
      fc.property(historyArb('r0'), fc.nat(), (h, pick) => {
        const latest = h.at(-1)!;
        const dead = expireSnapshot({ slots: { r0: latest }, records: {}, tombstones: {} }, latest.updated_at + EXPIRY + 1, EXPIRY);
        expect(dead.slots.r0).toBeUndefined();
        const old = h[pick % h.length]!;
        expect(mergeSnapshots(dead, { slots: { r0: old } }).slots.r0).toBeUndefined();
        const newer = { ...latest, version: latest.version + 1, updated_at: latest.updated_at + EXPIRY + 1 };
        expect(mergeSnapshots(dead, { slots: { r0: newer } }).slots.r0).toEqual(newer);
      }),
      { numRuns: 200 },
    );
  });

  it('a tombstone is dropped after two expiries, and the slot it guarded cannot come back then either', () => {
    const slot: SlotSnapshot = { replica: 'r9', version: 5, updated_at: T0, routes: {} };
    const clock = new ManualClock(T0);
    const s = new ReplicaState('r0', shapes('none'), clock, { slotExpiryMs: EXPIRY });
    s.merge({ slots: { r9: slot } });
    expect(s.peers().map((p) => p.replica)).toEqual(['r9']);
    clock.advance(EXPIRY + 1);
    s.snapshot();
    expect(s.peers()).toEqual([]);
    expect(s.tombstoned()).toEqual(['r9']);
    clock.advance(EXPIRY);
    s.snapshot();
    expect(s.tombstoned()).toEqual([]);
    s.merge({ slots: { r9: slot } });
    expect(s.peers()).toEqual([]);
  });

  it('a live replica with no traffic rewrites its slot, so peers never expire it', () => {
    const clock = new ManualClock(T0);
    const a = new ReplicaState('a', shapes('none'), clock, { slotExpiryMs: EXPIRY });
    const b = new ReplicaState('b', shapes('none'), clock, { slotExpiryMs: EXPIRY });
    a.closeAdoption();
    a.record(0, 0, 1);
    for (let i = 0; i < 20; i++) {
      clock.advance(EXPIRY / 5);
      b.merge(a.snapshot());
    }
    expect(b.fleet(0, 0, stats()).n).toBe(1);
  });
});

describe('time decay', () => {
  it('whatever the delivery order, replicas read the same faded view: Σ stats × 2^(−age/half-life)', () => {
    fc.assert(
      fc.property(fc.array(opArb.filter((o) => o.kind !== 'act'), { maxLength: 60 }), (ops) => {
        const { base, rs } = fleet('half_life', [0, 0, 0]);
        for (const op of ops) apply(rs, base, op);
        exchangeAll(rs);
        const expected = ARMS.map((_, arm) => {
          let n = 0;
          for (const r of rs) {
            const own = r.ownSlot();
            n += (own.routes.chat?.[ARMS[arm]!]?.n ?? 0) * Math.pow(2, -(base.now() - own.updated_at) / HALF_LIFE);
          }
          return n;
        });
        for (const r of rs) for (let a = 0; a < ARMS.length; a++) expect(r.fleet(0, a, stats()).n).toBeCloseTo(expected[a]!, 9);
      }),
      { numRuns: 200 },
    );
  });

  it('a dead replica’s slot fades at the same rate as a live replica’s evidence of the same age', () => {
    const clock = new ManualClock(T0);
    const live = new ReplicaState('live', shapes('half_life'), clock);
    const dead = new ReplicaState('dead', shapes('half_life'), clock);
    for (let i = 0; i < 100; i++) {
      live.record(0, 0, 1);
      dead.record(0, 1, 1);
    }
    live.merge(dead.snapshot());
    clock.advance(3 * HALF_LIFE);
    // The live replica records on another arm meanwhile: its evidence on arm a is as old as the dead slot's on b.
    live.record(0, 1, 0);
    const a = live.fleet(0, 0, stats()).n;
    const bFromDead = live.fleet(0, 1, stats()).n - 1;
    expect(a).toBeCloseTo(100 / 8, 9);
    expect(bFromDead).toBeCloseTo(100 / 8, 9);
  });

  it('a slot copy does not change between its owner’s writes (reads fade it; nothing rewrites it)', () => {
    const clock = new ManualClock(T0);
    const s = new ReplicaState('r0', shapes('half_life'), clock);
    s.record(0, 0, 1);
    const first = JSON.stringify(s.ownSlot());
    clock.advance(HALF_LIFE);
    expect(JSON.stringify(s.ownSlot())).toBe(first);
    expect(s.local(0, 0, stats()).n).toBeCloseTo(0.5, 12);
  });
});
