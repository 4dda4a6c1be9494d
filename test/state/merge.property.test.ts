/**
 * The CRDT laws of src/state/snapshot.ts, and convergence of ReplicaState
 * under arbitrary gossip delivery and restarts. Each law would fail for a
 * summing merge (idempotency, no double counting) or a last-writer-by-arrival
 * merge (commutativity, convergence).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplicaState } from '../../src/state/replica-state.js';
import { mergeRecords, recordKey, type FleetRecord, type Records } from '../../src/state/records.js';
import { fleetStats, mergeSnapshots, type SlotSnapshot, type Snapshot, type Tombstone } from '../../src/state/snapshot.js';
import { ManualClock } from '../../src/util/clock.js';

const REPLICAS = ['r0', 'r1', 'r2', 'r3'];
const ROUTES = ['chat', 'embed'];
const ARMS = ['a', 'b'];
const RUNS = { numRuns: 300 };

const stats = fc.record({
  n: fc.integer({ min: 0, max: 1000 }).map((x) => x / 4),
  sum: fc.integer({ min: -1000, max: 1000 }).map((x) => x / 8),
  sumSq: fc.integer({ min: 0, max: 1000 }).map((x) => x / 8),
});

const slotOf = (replica: string) =>
  fc.record({
    replica: fc.constant(replica),
    // Small ranges so equal versions (and equal updated_at) occur and the tie-break is exercised.
    version: fc.integer({ min: 0, max: 4 }),
    updated_at: fc.integer({ min: 0, max: 2 }),
    routes: fc.dictionary(fc.constantFrom(...ROUTES), fc.dictionary(fc.constantFrom(...ARMS), stats, { maxKeys: 2 }), { maxKeys: 2 }),
  }) as fc.Arbitrary<SlotSnapshot>;

/**
 * An operator or guardrail record. Its content is a function of its key and
 * stamp, as in production (one replica never makes the same stamp twice);
 * small stamp ranges make equal ms and counters common, so the replica-id
 * tie-break is exercised.
 */
const MODES = ['active', 'paused', 'frozen'] as const;
const recordArb: fc.Arbitrary<FleetRecord> = fc
  .record({
    kind: fc.constantFrom('mode', 'reset', 'manual', 'guard'),
    route: fc.constantFrom(...ROUTES),
    arm: fc.constantFrom(...ARMS),
    ms: fc.integer({ min: 0, max: 2 }),
    c: fc.integer({ min: 0, max: 1 }),
    r: fc.constantFrom(...REPLICAS),
  })
  .map(({ kind, route, arm, ms, c, r }) => {
    const stamp = { ms, c, r };
    const by = { who: `op-${r}`, replica: r };
    const v = ms + c + REPLICAS.indexOf(r);
    switch (kind) {
      case 'mode':
        return { kind, route, mode: MODES[v % 3]!, stamp, by };
      case 'reset':
        return { kind, route, stamp, by };
      case 'manual':
        return { kind, route, arm, state: v % 2 ? 'quarantined' : 'released', stamp, by };
      default:
        return { kind: 'guard', route, arm, state: v % 2 ? 'quarantined' : 'released', rule: 'error_rate', until: 10 + v, stamp, by };
    }
  });
const recordsArb: fc.Arbitrary<Records> = fc.array(recordArb, { maxLength: 6 }).map((rs) => rs.reduce<Records>((acc, r) => mergeRecords(acc, { [recordKey(r)]: r }), {}));
const tombstonesArb: fc.Arbitrary<Record<string, Tombstone>> = fc.dictionary(
  fc.constantFrom(...REPLICAS),
  fc.record({ version: fc.integer({ min: 0, max: 4 }), updated_at: fc.integer({ min: 0, max: 2 }) }),
  { maxKeys: 2 },
);

/** Snapshots as a replica holds them: normalized by a merge (no slot a tombstone of its own buries). */
const snapshotArb: fc.Arbitrary<Snapshot> = fc
  .subarray(REPLICAS)
  .chain((ids) => fc.tuple(fc.tuple(...ids.map(slotOf)), recordsArb, tombstonesArb))
  .map(([slots, records, tombstones]) => mergeSnapshots({ slots: Object.fromEntries(slots.map((s) => [s.replica, s])), records, tombstones }, { slots: {} }));

const view = (s: Snapshot) => ROUTES.flatMap((r) => ARMS.map((a) => fleetStats(s, r, a)));

describe('mergeSnapshots is a join (state-based CRDT)', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, (a, b) => {
        expect(mergeSnapshots(a, b)).toEqual(mergeSnapshots(b, a));
      }),
      RUNS,
    );
  });

  it('is associative', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, snapshotArb, (a, b, c) => {
        expect(mergeSnapshots(mergeSnapshots(a, b), c)).toEqual(mergeSnapshots(a, mergeSnapshots(b, c)));
      }),
      RUNS,
    );
  });

  it('is idempotent (merging a snapshot into itself, or again, changes nothing)', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, (a, b) => {
        expect(mergeSnapshots(a, a)).toEqual(a);
        const ab = mergeSnapshots(a, b);
        expect(mergeSnapshots(ab, b)).toEqual(ab);
        expect(view(mergeSnapshots(ab, ab))).toEqual(view(ab));
      }),
      RUNS,
    );
  });
});

/** A replica's history: the slot after each of its writes (versions increase, counts accumulate). */
function history(replica: string, rewards: Array<[number, number, number]>): SlotSnapshot[] {
  const out: SlotSnapshot[] = [];
  const acc: Record<string, Record<string, { n: number; sum: number; sumSq: number }>> = {};
  rewards.forEach(([r, a, x], i) => {
    const route = ROUTES[r]!;
    const arm = ARMS[a]!;
    const s = ((acc[route] ??= {})[arm] ??= { n: 0, sum: 0, sumSq: 0 });
    s.n += 1;
    s.sum += x;
    s.sumSq += x * x;
    out.push({ replica, version: i + 1, updated_at: 1000 + i, routes: structuredClone(acc) });
  });
  return out;
}

const rewardsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 4 }).map((x) => x / 4)), {
  minLength: 1,
  maxLength: 12,
});

describe('delivery order, duplication and loss of intermediate versions do not matter', () => {
  it('any interleaving with duplicates converges to the view of the latest versions', () => {
    const arb = fc
      .tuple(rewardsArb, rewardsArb, rewardsArb)
      .chain((hs) => {
        const histories = hs.map((h, i) => history(REPLICAS[i]!, h));
        // Every delivery is some version of some replica's slot; each replica's latest is delivered at least once.
        const all = histories.flatMap((h) => h.map((_, v) => [histories.indexOf(h), v] as const));
        const latest = histories.map((h, i) => [i, h.length - 1] as const);
        return fc
          .tuple(fc.array(fc.constantFrom(...all), { maxLength: 40 }), fc.constant(latest))
          .chain(([extra, lat]) => fc.shuffledSubarray([...extra, ...lat, ...extra], { minLength: extra.length * 2 + lat.length }))
          .map((order) => ({ histories, order }));
      });
    fc.assert(
      fc.property(arb, fc.integer({ min: 1, max: 5 }), ({ histories, order }, observers) => {
        const expected = view({ slots: Object.fromEntries(histories.map((h) => [h.at(-1)!.replica, h.at(-1)!])) });
        // Several observers, each receiving the deliveries in a different rotation of the order.
        for (let k = 0; k < observers; k++) {
          const rotated = [...order.slice(k % order.length), ...order.slice(0, k % order.length)];
          let s: Snapshot = { slots: {} };
          for (const [h, v] of rotated) s = mergeSnapshots(s, { slots: { [REPLICAS[h]!]: histories[h]![v]! } });
          expect(view(s)).toEqual(expected);
        }
      }),
      { numRuns: 200 },
    );
  });
});

const clockAt = () => new ManualClock(1_000_000);
const shapes = ROUTES.map((name) => ({ name, arms: ARMS, drift: { mode: 'none' as const } }));

function fleetN(s: ReplicaState): number {
  let n = 0;
  for (const r of ROUTES) for (let a = 0; a < ARMS.length; a++) n += s.fleet(s.routeIndex(r)!, a, { n: 0, sum: 0, sumSq: 0 }).n;
  return n;
}

describe('ReplicaState under gossip', () => {
  it('no reward is counted twice, however often and in whatever order snapshots are delivered', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('record' as const), who: fc.integer({ min: 0, max: 2 }), route: fc.integer({ min: 0, max: 1 }), arm: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ kind: fc.constant('gossip' as const), from: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 0, max: 2 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const clock = clockAt();
        const rs = [0, 1, 2].map((i) => new ReplicaState(REPLICAS[i]!, shapes, clock));
        rs.forEach((r) => r.closeAdoption());
        const recorded = [0, 0, 0];
        const snaps: Snapshot[] = [];
        for (const o of ops) {
          clock.advance(1);
          if (o.kind === 'record') {
            rs[o.who]!.record(o.route, o.arm, 1);
            recorded[o.who]!++;
          } else {
            const s = rs[o.from]!.snapshot();
            snaps.push(s);
            rs[o.to]!.merge(s);
            // Redeliver an old snapshot too: stale and duplicate deliveries are no-ops.
            rs[o.to]!.merge(snaps[Math.floor(snaps.length / 2)]!);
          }
          for (const r of rs) expect(fleetN(r)).toBeLessThanOrEqual(recorded.reduce((x, y) => x + y, 0));
        }
        // Full anti-entropy (every pair, twice) then every replica sees exactly what was recorded.
        for (let round = 0; round < 2; round++) for (const a of rs) for (const b of rs) if (a !== b) b.merge(a.snapshot());
        const total = recorded.reduce((x, y) => x + y, 0);
        for (const r of rs) expect(fleetN(r)).toBe(total);
        rs.forEach((r, i) => {
          let own = 0;
          for (const route of ROUTES) for (let a = 0; a < ARMS.length; a++) own += r.local(r.routeIndex(route)!, a, { n: 0, sum: 0, sumSq: 0 }).n;
          expect(own).toBe(recorded[i]);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('a replica restarted from an older snapshot file recovers its newer slot from peers before it serves, and everyone converges', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        // Writes the file missed.
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 10 }),
        fc.boolean(),
        (beforeFile, afterFile, peerRecords, afterRestart, peerSawLatest) => {
          const clock = clockAt();
          const a = new ReplicaState('r0', shapes, clock);
          const b = new ReplicaState('r1', shapes, clock);
          [a, b].forEach((r) => r.closeAdoption());
          for (let i = 0; i < beforeFile; i++) a.record(0, i % 2, 1);
          const file = a.ownSlot();
          b.merge(a.snapshot());
          for (let i = 0; i < afterFile; i++) a.record(1, 0, 1);
          if (peerSawLatest) b.merge(a.snapshot());
          for (let i = 0; i < peerRecords; i++) b.record(0, 1, 1);
          // Crash: a's memory is gone. The new incarnation loads the older file and syncs first (readiness gate).
          clock.advance(10);
          const a2 = new ReplicaState('r0', shapes, clock);
          a2.restoreOwn(file);
          a2.merge(b.snapshot());
          a2.closeAdoption();
          for (let i = 0; i < afterRestart; i++) a2.record(0, 0, 1);
          for (let k = 0; k < 2; k++) {
            b.merge(a2.snapshot());
            a2.merge(b.snapshot());
          }
          const aKnown = peerSawLatest ? beforeFile + afterFile : beforeFile;
          expect(fleetN(a2)).toBe(aKnown + afterRestart + peerRecords);
          expect(fleetN(b)).toBe(fleetN(a2));
          for (const r of ROUTES) {
            for (let arm = 0; arm < ARMS.length; arm++) {
              const ri = a2.routeIndex(r)!;
              expect(a2.fleet(ri, arm, { n: 0, sum: 0, sumSq: 0 })).toEqual(b.fleet(ri, arm, { n: 0, sum: 0, sumSq: 0 }));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a restarted replica that records before it syncs never double counts, and the fleet still converges', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), (before, lost, early) => {
        const clock = clockAt();
        const a = new ReplicaState('r0', shapes, clock);
        const b = new ReplicaState('r1', shapes, clock);
        b.closeAdoption();
        for (let i = 0; i < before; i++) a.record(0, 0, 1);
        const file = a.ownSlot();
        for (let i = 0; i < lost; i++) a.record(0, 1, 1);
        b.merge(a.snapshot());
        clock.advance(10);
        const a2 = new ReplicaState('r0', shapes, clock);
        a2.restoreOwn(file);
        for (let i = 0; i < early; i++) a2.record(1, 1, 1);
        a2.merge(b.snapshot());
        a2.closeAdoption();
        for (let k = 0; k < 2; k++) {
          b.merge(a2.snapshot());
          a2.merge(b.snapshot());
        }
        const n = fleetN(a2);
        expect(n).toBeLessThanOrEqual(before + lost + early);
        expect(n).toBeGreaterThanOrEqual(before + early);
        expect(fleetN(b)).toBe(n);
      }),
      { numRuns: 300 },
    );
  });

  // Restart edge cases the property above found (fixed by slot incarnations).
  it('a peer copy newer than the snapshot file by exactly one write is adopted (the write survives the restart)', () => {
    const clock = clockAt();
    const a = new ReplicaState('r0', shapes, clock);
    const b = new ReplicaState('r1', shapes, clock);
    a.closeAdoption();
    b.closeAdoption();
    const file = a.ownSlot();
    a.record(0, 0, 1);
    b.merge(a.snapshot());
    clock.advance(10);
    const a2 = new ReplicaState('r0', shapes, clock);
    a2.restoreOwn(file);
    a2.merge(b.snapshot());
    a2.closeAdoption();
    b.merge(a2.snapshot());
    expect(fleetN(a2)).toBe(1);
  });

  it('an own-slot copy of an earlier incarnation is adopted or out-versioned, so replicas never diverge on it', () => {
    const clock = clockAt();
    const a = new ReplicaState('r0', shapes, clock);
    const b = new ReplicaState('r1', shapes, clock);
    b.closeAdoption();
    a.record(0, 0, 1);
    const file = a.ownSlot();
    for (let i = 0; i < 5; i++) a.record(0, 1, 1);
    b.merge(a.snapshot());
    const a2 = new ReplicaState('r0', shapes, clock);
    a2.restoreOwn(file);
    for (let i = 0; i < 4; i++) a2.record(1, 1, 1);
    a2.merge(b.snapshot());
    a2.closeAdoption();
    for (let k = 0; k < 2; k++) {
      b.merge(a2.snapshot());
      a2.merge(b.snapshot());
    }
    expect(fleetN(b)).toBe(fleetN(a2));
  });
});
