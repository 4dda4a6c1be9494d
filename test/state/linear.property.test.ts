/**
 * The contextual statistics (per arm A = Σ x xᵀ, b = Σ r·x) and the SLO
 * outcome tally ride in each replica's slot, so they inherit the slot CRDT:
 * the laws below are checked on snapshots whose slots carry them, and on
 * ReplicaStates exchanging snapshots in any order — the fleet's A and b are
 * the dense sum of every observation on every replica, never counted twice,
 * faded by 2^(−age/half-life) on half_life routes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { zeroLinearStats, type LinearStats } from '../../src/contextual/model.js';
import { packedLength, type LinearRouteSlot } from '../../src/state/linear.js';
import { ReplicaState, type RouteShape } from '../../src/state/replica-state.js';
import { expireSnapshot, fleetLinear, mergeSnapshots, parseSnapshot, slotSchema, type SlotSnapshot, type Snapshot } from '../../src/state/snapshot.js';
import { ManualClock } from '../../src/util/clock.js';

const REPLICAS = ['r0', 'r1', 'r2'];
const ARMS = ['a', 'b'];
const D = 3;
const KEY = 'k1';
const T0 = 1_700_000_000_000;
const RUNS = { numRuns: 200 };

const armSlot = fc.record({
  n: fc.integer({ min: 0, max: 40 }),
  A: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: packedLength(D), maxLength: packedLength(D) }),
  b: fc.array(fc.integer({ min: -40, max: 40 }), { minLength: D, maxLength: D }),
});
const linearRoute: fc.Arbitrary<LinearRouteSlot> = fc.record({
  key: fc.constantFrom(KEY, 'other'),
  d: fc.constant(D),
  arms: fc.dictionary(fc.constantFrom(...ARMS), armSlot, { maxKeys: 2 }),
});
const sloSlot = fc.record({
  bucket_ms: fc.constant(1000),
  buckets: fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 9 })), { selector: (t) => t[0], maxLength: 3 }).map((bs) => bs.map(([b, t]) => [b, t, Math.floor(t / 2)] as [number, number, number])),
});
const slotOf = (replica: string): fc.Arbitrary<SlotSnapshot> =>
  fc.record({
    replica: fc.constant(replica),
    version: fc.integer({ min: 0, max: 4 }),
    updated_at: fc.integer({ min: 0, max: 2 }),
    routes: fc.constant({}),
    linear: fc.record({ chat: linearRoute }),
    slo: fc.record({ chat: sloSlot }),
  });
const snapshotArb: fc.Arbitrary<Snapshot> = fc
  .subarray(REPLICAS)
  .chain((ids) => fc.tuple(...ids.map(slotOf)))
  .map((slots) => mergeSnapshots({ slots: Object.fromEntries(slots.map((s) => [s.replica, s])) }, { slots: {} }));

const linView = (s: Snapshot) => ARMS.map((arm) => fleetLinear(s, 'chat', arm, KEY, zeroLinearStats(D)));

describe('slots carrying contextual statistics and SLO tallies merge as a join', () => {
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

  it('is idempotent, and the fleet A and b (the sum over slots) do not move on a repeated merge', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, (a, b) => {
        expect(mergeSnapshots(a, a)).toEqual(a);
        const ab = mergeSnapshots(a, b);
        expect(mergeSnapshots(ab, b)).toEqual(ab);
        expect(linView(mergeSnapshots(ab, ab))).toEqual(linView(ab));
      }),
      RUNS,
    );
  });

  it('survives the wire: parse(JSON(snapshot)) is the same snapshot, and expiry commutes with merge', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, fc.integer({ min: 0, max: 6 }), (a, b, now) => {
        expect(parseSnapshot(JSON.parse(JSON.stringify(a)))).toEqual({ ok: true, value: { records: {}, tombstones: {}, ...a } });
        const left = expireSnapshot(mergeSnapshots(a, b), now, 2);
        const right = expireSnapshot(mergeSnapshots(expireSnapshot(a, now, 2), expireSnapshot(b, now, 2)), now, 2);
        expect(linView(left)).toEqual(linView(right));
      }),
      RUNS,
    );
  });
});

// ---- ReplicaStates under gossip ----

const HALF_LIFE = 1_000;
const shapes = (halfLife: boolean): RouteShape[] => [
  { name: 'chat', arms: ARMS, drift: halfLife ? { mode: 'half_life', half_life_ms: HALF_LIFE } : { mode: 'none' }, linear: { key: KEY, dim: D }, sloWindowMs: 60_000 },
];

/** One-hot-ish context: intercept plus one of D−1 segment slots. */
function ctxOf(seg: number): { x: Float64Array; nz: Int32Array; nnz: number } {
  const x = new Float64Array(D);
  x[0] = 1;
  x[1 + seg] = 1;
  return { x, nz: Int32Array.from([0, 1 + seg]), nnz: 2 };
}

function denseAdd(into: LinearStats, x: Float64Array, r: number, w: number): void {
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) into.A[i * D + j] = into.A[i * D + j]! + w * x[i]! * x[j]!;
    into.b[i] = into.b[i]! + w * r * x[i]!;
  }
  into.n += w;
}

type Op = { kind: 'record'; by: number; arm: number; seg: number; r: number; ok: boolean } | { kind: 'gossip'; from: number; to: number } | { kind: 'tick'; ms: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('record' as const), by: fc.integer({ min: 0, max: 2 }), arm: fc.integer({ min: 0, max: 1 }), seg: fc.integer({ min: 0, max: D - 2 }), r: fc.constantFrom(0, 0.5, 1), ok: fc.boolean() }),
  fc.record({ kind: fc.constant('gossip' as const), from: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 300 }) }),
);

function run(ops: readonly Op[], halfLife: boolean) {
  const clock = new ManualClock(T0);
  const rs = REPLICAS.map((id) => new ReplicaState(id, shapes(halfLife), clock, { slotExpiryMs: 3_600_000 }));
  for (const r of rs) r.closeAdoption();
  // What the fleet should read: every observation once, with its time.
  const truth: Array<{ arm: number; x: Float64Array; r: number; at: number }> = [];
  let requests = 0;
  let failures = 0;
  for (const op of ops) {
    if (op.kind === 'record') {
      const c = ctxOf(op.seg);
      rs[op.by]!.record(0, op.arm, op.r);
      rs[op.by]!.recordLinear(0, op.arm, c.x, c.nz, c.nnz, op.r);
      rs[op.by]!.recordOutcome(0, op.ok);
      truth.push({ arm: op.arm, x: c.x, r: op.r, at: clock.now() });
      requests++;
      if (!op.ok) failures++;
    } else if (op.kind === 'gossip') {
      // Deliver twice: duplicates must not count.
      if (op.from !== op.to) for (let k = 0; k < 2; k++) rs[op.to]!.merge(JSON.parse(JSON.stringify(rs[op.from]!.snapshot())) as Snapshot);
    } else clock.advance(op.ms);
  }
  for (let round = 0; round < 2; round++) for (const to of rs) for (const from of rs) if (to !== from) to.merge(from.snapshot());
  return { clock, rs, truth, requests, failures };
}

describe('ReplicaStates exchanging contextual statistics', () => {
  it('every replica reads the same fleet A and b: each observation once, whatever the delivery order and duplicates', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 50 }), (ops) => {
        const { clock, rs, truth, requests, failures } = run(ops, false);
        for (let arm = 0; arm < ARMS.length; arm++) {
          const want = zeroLinearStats(D);
          for (const t of truth) if (t.arm === arm) denseAdd(want, t.x, t.r, 1);
          for (const r of rs) {
            const got = r.linearFleet(0, arm, clock.now(), zeroLinearStats(D));
            expect(Array.from(got.A)).toEqual(Array.from(want.A));
            expect(Array.from(got.b)).toEqual(Array.from(want.b));
            expect(got.n).toBe(want.n);
          }
        }
        for (const r of rs) {
          const c = { requests: 0, failures: 0 };
          r.sloCountInto(0, clock.now(), 60, c);
          expect(c).toEqual({ requests, failures });
        }
      }),
      RUNS,
    );
  });

  it('with a half-life every replica reads Σ w·x xᵀ with w = 2^(−age/half-life), the fade of the context-free stats', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 50 }), (ops) => {
        const { clock, rs, truth } = run(ops, true);
        const now = clock.now();
        for (let arm = 0; arm < ARMS.length; arm++) {
          const want = zeroLinearStats(D);
          for (const t of truth) if (t.arm === arm) denseAdd(want, t.x, t.r, Math.pow(2, -(now - t.at) / HALF_LIFE));
          for (const r of rs) {
            const got = r.linearFleet(0, arm, now, zeroLinearStats(D));
            got.A.forEach((v, i) => expect(v).toBeCloseTo(want.A[i]!, 9));
            got.b.forEach((v, i) => expect(v).toBeCloseTo(want.b[i]!, 9));
            expect(got.n).toBeCloseTo(want.n, 9);
            // The same fade as the context-free n.
            expect(got.n).toBeCloseTo(r.fleet(0, arm, { n: 0, sum: 0, sumSq: 0 }).n, 9);
          }
        }
      }),
      RUNS,
    );
  });
});

describe('contextual statistics in snapshots, expiry and resets', () => {
  it('a restarted replica restores its A and b from its slot file', () => {
    const clock = new ManualClock(T0);
    const a = new ReplicaState('r0', shapes(false), clock);
    const c = ctxOf(1);
    for (let i = 0; i < 5; i++) a.recordLinear(0, 1, c.x, c.nz, c.nnz, 1);
    a.record(0, 1, 1);
    const file: SlotSnapshot = slotSchema.parse(JSON.parse(JSON.stringify(a.ownSlot())));
    expect(file.linear?.chat?.arms.b?.n).toBe(5);
    const b = new ReplicaState('r0', shapes(false), clock);
    b.restoreOwn(file);
    expect(Array.from(b.linearFleet(0, 1, clock.now(), zeroLinearStats(D)).b)).toEqual([5, 0, 5]);
  });

  it('a slot with another feature key (a rollout that changed features) is not added', () => {
    const clock = new ManualClock(T0);
    const a = new ReplicaState('r0', shapes(false), clock);
    const other = new ReplicaState('r1', [{ ...shapes(false)[0]!, linear: { key: 'changed', dim: D } }], clock);
    const c = ctxOf(0);
    other.recordLinear(0, 0, c.x, c.nz, c.nnz, 1);
    other.record(0, 0, 1);
    a.merge(other.snapshot());
    expect(a.linearFleet(0, 0, clock.now(), zeroLinearStats(D)).n).toBe(0);
    expect(a.fleet(0, 0, { n: 0, sum: 0, sumSq: 0 }).n).toBe(1);
  });

  it('an expired replica’s A and b leave the fleet view; a reset empties them everywhere; the version moves so policies rebuild', () => {
    const clock = new ManualClock(T0);
    const a = new ReplicaState('r0', shapes(false), clock, { slotExpiryMs: 10_000 });
    const b = new ReplicaState('r1', shapes(false), clock, { slotExpiryMs: 10_000 });
    const c = ctxOf(0);
    b.recordLinear(0, 0, c.x, c.nz, c.nnz, 1);
    a.recordLinear(0, 0, c.x, c.nz, c.nnz, 1);
    const v0 = a.linearVersion;
    a.merge(b.snapshot());
    expect(a.linearVersion).not.toBe(v0);
    expect(a.linearFleet(0, 0, clock.now(), zeroLinearStats(D)).n).toBe(2);
    clock.advance(10_001);
    a.upkeep(clock.now());
    expect(a.linearFleet(0, 0, clock.now(), zeroLinearStats(D)).n).toBe(1);
    a.write({ kind: 'reset', route: 'chat' }, 'ops');
    expect(a.linearFleet(0, 0, clock.now(), zeroLinearStats(D)).n).toBe(0);
  });
});
