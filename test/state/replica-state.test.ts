import { describe, expect, it } from 'vitest';
import { ReplicaState } from '../../src/state/replica-state.js';
import { ManualClock } from '../../src/util/clock.js';

const routes = [{ name: 'chat', arms: ['a', 'b'], drift: { mode: 'none' as const } }];
const stats = () => ({ n: 0, sum: 0, sumSq: 0 });

describe('ReplicaState', () => {
  it('the fleet view is our slot plus every peer slot', () => {
    const clock = new ManualClock(1000);
    const r1 = new ReplicaState('r1', routes, clock);
    const r2 = new ReplicaState('r2', routes, clock);
    r1.record(0, 0, 1);
    r2.record(0, 0, 0);
    r2.record(0, 1, 1);
    r1.merge(r2.snapshot());
    expect(r1.fleet(0, 0, stats())).toEqual({ n: 2, sum: 1, sumSq: 1 });
    expect(r1.fleet(0, 1, stats())).toEqual({ n: 1, sum: 1, sumSq: 1 });
    expect(r1.local(0, 1, stats()).n).toBe(0);
  });

  it('merging the same snapshot twice does not count anything twice', () => {
    const clock = new ManualClock(0);
    const r1 = new ReplicaState('r1', routes, clock);
    const r2 = new ReplicaState('r2', routes, clock);
    r2.record(0, 0, 1);
    const snap = r2.snapshot();
    r1.merge(snap);
    r1.merge(snap);
    expect(r1.fleet(0, 0, stats()).n).toBe(1);
  });

  it('a restarted replica adopts a newer copy of its own slot from a peer, keeping what it recorded since start', () => {
    const clock = new ManualClock(0);
    const before = new ReplicaState('r1', routes, clock);
    for (let i = 0; i < 5; i++) before.record(0, 0, 1);
    const peer = new ReplicaState('r2', routes, clock);
    peer.merge(before.snapshot());

    const restarted = new ReplicaState('r1', routes, clock);
    restarted.record(0, 1, 1); // traffic before the first sync
    const res = restarted.merge(peer.snapshot());
    expect(res.adoptedOwn).toBe(true);
    expect(restarted.local(0, 0, stats()).n).toBe(5);
    expect(restarted.local(0, 1, stats()).n).toBe(1);
    expect(restarted.ownVersion).toBeGreaterThan(before.ownVersion);
  });

  it('after adoption closes, a stale copy of our slot only bumps our version so our writes win again', () => {
    const clock = new ManualClock(0);
    const old = new ReplicaState('r1', routes, clock);
    for (let i = 0; i < 10; i++) old.record(0, 0, 1);
    const fresh = new ReplicaState('r1', routes, clock);
    fresh.closeAdoption();
    fresh.merge(old.snapshot());
    expect(fresh.local(0, 0, stats()).n).toBe(0);
    expect(fresh.ownVersion).toBeGreaterThan(old.ownVersion);
  });

  it('reconfigure keeps statistics of arms that remain and starts new arms empty', () => {
    const clock = new ManualClock(0);
    const s = new ReplicaState('r1', routes, clock);
    s.record(0, 0, 1);
    s.record(0, 1, 0.5);
    s.reconfigure([{ name: 'chat', arms: ['b', 'c'], drift: { mode: 'none' } }]);
    expect(s.local(0, 0, stats())).toEqual({ n: 1, sum: 0.5, sumSq: 0.25 });
    expect(s.local(0, 1, stats()).n).toBe(0);
  });

  it('a guardrail quarantine written on a peer is in force here until its `until` passes', () => {
    const clock = new ManualClock(1000);
    const r1 = new ReplicaState('r1', routes, clock);
    const r2 = new ReplicaState('r2', routes, clock);
    r2.write({ kind: 'guard', route: 'chat', arm: 'b', state: 'quarantined', rule: 'error_rate', until: 5000 }, 'guardrail');
    const v = r1.flagsVersion;
    r1.merge(r2.snapshot());
    expect(r1.flagsVersion).not.toBe(v);
    expect(r1.activeFlags('chat', 'b', 2000).map((f) => f.replica)).toEqual(['r2']);
    expect(r1.activeFlags('chat', 'b', 5000)).toEqual([]);
  });
});
