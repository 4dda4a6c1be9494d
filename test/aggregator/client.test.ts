import { describe, expect, it } from 'vitest';
import { backoffDelay, RewardStreamClient, type RewardConnectionHandlers } from '../../src/aggregator/client.js';
import type { RewardEvent } from '../../src/engine/engine.js';
import type { WireRewardBatch } from '../../src/aggregator/proto.js';
import { ManualClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createRng } from '../../src/util/rng.js';
import { sleep } from '../support/wait.js';

const tick = () => new Promise((r) => setImmediate(r));

/** A fake aggregator connection the test drives by hand. */
function fakeConnector() {
  const conns: Array<{ h: RewardConnectionHandlers; sent: WireRewardBatch[]; cancelled: boolean }> = [];
  let refuse = false;
  return {
    conns,
    set refuse(v: boolean) {
      refuse = v;
    },
    connect: (h: RewardConnectionHandlers) => {
      if (refuse) throw new Error('connection refused');
      const c = { h, sent: [] as WireRewardBatch[], cancelled: false };
      conns.push(c);
      return { send: (b: WireRewardBatch) => void c.sent.push(structuredClone(b)), end: () => undefined, cancel: () => void (c.cancelled = true) };
    },
    get last() {
      return conns.at(-1)!;
    },
  };
}

let idn = 0;
const ev = (): RewardEvent => ({ decisionId: `d${++idn}`, route: 'chat', arm: 'a', reward: 1, source: 'response', time: 5 });

function client(fc: ReturnType<typeof fakeConnector>, over: Partial<ConstructorParameters<typeof RewardStreamClient>[0]> = {}) {
  return new RewardStreamClient({
    replica: 'r1',
    batch: 4,
    flushMs: 20,
    buffer: 100,
    connect: fc.connect,
    clock: new ManualClock(0),
    rng: createRng(1),
    logger: silentLogger(),
    metrics: null,
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    ...over,
  });
}

describe('RewardStreamClient', () => {
  it('batches by size and by time, numbers batches, and forgets them once acked (cumulative)', async () => {
    const fc = fakeConnector();
    const c = client(fc);
    for (let i = 0; i < 9; i++) c.offer(ev());
    await tick();
    expect(fc.last.sent.map((b) => [b.seq, b.rewards.length])).toEqual([
      [1, 4],
      [2, 4],
    ]);
    await sleep(40); // the 9th is flushed by time
    expect(fc.last.sent.map((b) => b.seq)).toEqual([1, 2, 3]);
    expect(fc.last.sent[2]!.rewards).toHaveLength(1);
    expect(c.stats().buffered).toBe(9);
    fc.last.h.onAck({ seq: 2, accepted: 4, duplicates: 0 });
    expect(c.stats()).toMatchObject({ buffered: 1, sent: 9, acked: 8 });
    fc.last.h.onAck({ seq: 3, accepted: 1, duplicates: 0 });
    expect(c.stats()).toMatchObject({ buffered: 0, acked: 9, retried: 0, dropped: 0 });
    await c.stop();
  });

  it('resends unacked batches in order after the stream breaks, with the same seq', async () => {
    const fc = fakeConnector();
    const c = client(fc);
    for (let i = 0; i < 12; i++) c.offer(ev());
    await tick();
    const first = fc.last;
    first.h.onAck({ seq: 1, accepted: 4, duplicates: 0 });
    first.h.onClose(new Error('aggregator went away'));
    expect(fc.conns).toHaveLength(1);
    await sleep(40); // backoff (≤ 20 ms) then reconnect
    expect(fc.conns).toHaveLength(2);
    const resent = fc.last.sent;
    expect(resent.map((b) => b.seq)).toEqual([2, 3]);
    expect(resent.map((b) => b.rewards.map((r) => r.decision_id))).toEqual(first.sent.slice(1).map((b) => b.rewards.map((r) => r.decision_id)));
    fc.last.h.onAck({ seq: 3, accepted: 8, duplicates: 0 });
    expect(c.stats()).toMatchObject({ buffered: 0, sent: 12, acked: 12, retried: 8 });
    await c.stop();
  });

  it('keeps at most `buffer` rewards: past it drops the oldest waiting ones and counts them', async () => {
    const fc = fakeConnector();
    fc.refuse = true;
    const c = client(fc, { buffer: 10 });
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const e = ev();
      ids.push(e.decisionId);
      c.offer(e);
    }
    expect(c.stats()).toMatchObject({ buffered: 10, dropped: 15 });
    fc.refuse = false;
    await sleep(60);
    const delivered = fc.last.sent.flatMap((b) => b.rewards.map((r) => r.decision_id));
    expect(delivered).toEqual(ids.slice(15));
    fc.last.h.onAck({ seq: fc.last.sent.at(-1)!.seq, accepted: 10, duplicates: 0 });
    expect(c.stats()).toMatchObject({ buffered: 0, acked: 10, dropped: 15 });
    await c.stop();
  });

  it('never throws into the caller, even when the connector throws', async () => {
    let attempts = 0;
    const throwing = {
      ...fakeConnector(),
      connect: () => {
        attempts++;
        throw new Error('boom');
      },
    };
    const c = client(throwing as never);
    expect(() => {
      for (let i = 0; i < 20; i++) c.offer(ev());
    }).not.toThrow();
    // The connect happens off the caller's stack: wait until it has thrown (and been retried), offering meanwhile.
    for (let i = 0; i < 100 && attempts < 2; i++) {
      expect(() => c.offer(ev())).not.toThrow();
      await sleep(5);
    }
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(c.stats().buffered).toBeGreaterThan(0);
    await c.stop(10);
  });

  it('stop() flushes the open batch and waits (bounded) for the acks; undelivered ones are counted as dropped', async () => {
    const fc = fakeConnector();
    const c = client(fc, { batch: 100 });
    c.offer(ev());
    c.offer(ev());
    const stopping = c.stop(500);
    await tick();
    expect(fc.last.sent[0]!.rewards).toHaveLength(2);
    fc.last.h.onAck({ seq: 1, accepted: 2, duplicates: 0 });
    expect(await stopping).toMatchObject({ buffered: 0, acked: 2, dropped: 0 });

    const fc2 = fakeConnector();
    const c2 = client(fc2);
    c2.offer(ev());
    const t0 = Date.now();
    const s = await c2.stop(50); // nobody acks
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(s).toMatchObject({ buffered: 0, dropped: 1 });
  });

  it('backs off exponentially with full jitter, capped', () => {
    const rng = createRng(3);
    for (let attempt = 0; attempt < 12; attempt++) {
      const cap = Math.min(5000, 100 * 2 ** attempt);
      for (let i = 0; i < 20; i++) {
        const d = backoffDelay(attempt, 100, 5000, rng);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(cap);
      }
    }
    const big = Array.from({ length: 200 }, () => backoffDelay(10, 100, 5000, rng));
    expect(Math.max(...big)).toBeGreaterThan(2500);
  });
});
