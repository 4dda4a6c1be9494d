import { mkdtempSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RewardStreamClient } from '../../src/aggregator/client.js';
import { grpcRewardConnector } from '../../src/aggregator/connector.js';
import { AggregatorServer } from '../../src/aggregator/server.js';
import type { RewardEvent } from '../../src/engine/engine.js';
import { verifyMessage } from '../../src/gossip/message.js';
import { aggregatorProto, type WireRewardBatch } from '../../src/aggregator/proto.js';
import { fetchAggregatorSnapshot } from '../../src/aggregator/connector.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createRng } from '../../src/util/rng.js';
import { DecisionIdCodec, parseDecisionId } from '../../src/reward/decision-id.js';
import { makeConfig } from '../support/aggregator-fixtures.js';
import { reencodings } from '../support/reencode.js';
import { waitFor } from '../support/wait.js';

const ev = (id: string, arm = 'model-a', reward = 1): RewardEvent => ({ decisionId: id, route: 'chat', arm, reward, source: 'response', time: Date.now() });

describe('AggregatorServer', () => {
  let dir: string;
  let logFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eb-agg-'));
    logFile = join(dir, 'rewards.jsonl');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const start = async (port = 0) => {
    const config = makeConfig({ replica: 'aggregator', aggregator: { address: `127.0.0.1:${port}`, log_file: logFile } });
    const s = new AggregatorServer({ config, logger: silentLogger(), admin: false });
    const a = await s.start();
    return { s, address: a.aggregator };
  };
  const logLines = () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { decision_id: string; replica: string });

  it('logs each reward once across resends and acks only after the write; a restart reloads the dedupe index and counts', async () => {
    const { s, address } = await start();
    const conn = grpcRewardConnector(address);
    const c = new RewardStreamClient({ replica: 'r1', batch: 10, flushMs: 10, buffer: 1000, connect: conn.connect, clock: systemClock, rng: createRng(1), logger: silentLogger(), metrics: null });
    c.start();
    for (let i = 0; i < 95; i++) c.offer(ev(`id-${i}`, i % 2 ? 'model-a' : 'model-b', i % 3 === 0 ? 0 : 1));
    await waitFor(() => c.stats().acked === 95);
    expect(s.summary()).toMatchObject({ rewards: 95, duplicates: 0 });
    // A replica resending what was already logged (its ack got lost): counted as duplicates, not logged.
    for (let i = 90; i < 100; i++) c.offer(ev(`id-${i}`));
    await waitFor(() => c.stats().acked === 105);
    expect(s.summary()).toMatchObject({ rewards: 100, duplicates: 5 });
    await c.stop();
    conn.close();
    const port = Number(address.split(':')[1]);
    await s.stop();
    const lines = logLines();
    expect(lines).toHaveLength(100);
    expect(new Set(lines.map((l) => l.decision_id)).size).toBe(100);
    expect(lines.every((l) => l.replica === 'r1')).toBe(true);

    // A torn last line (crash mid-write) is cut at restart.
    appendFileSync(logFile, '{"decision_id":"torn","rou');
    const again = await start(port);
    expect(again.s.summary()).toMatchObject({ rewards: 100, dedupe_ids: 100 });
    const a = again.s.summary().routes.chat!;
    expect(a['model-a']!.n + a['model-b']!.n).toBe(100);
    const conn2 = grpcRewardConnector(again.address);
    const c2 = new RewardStreamClient({ replica: 'r1', batch: 10, flushMs: 10, buffer: 1000, connect: conn2.connect, clock: systemClock, rng: createRng(2), logger: silentLogger(), metrics: null });
    c2.start();
    for (let i = 95; i < 110; i++) c2.offer(ev(`id-${i}`));
    await waitFor(() => c2.stats().acked === 15);
    expect(again.s.summary()).toMatchObject({ rewards: 110, duplicates: 5 });
    await c2.stop();
    conn2.close();
    await again.s.stop();
    expect(logLines()).toHaveLength(110);
    expect(readFileSync(logFile, 'utf8')).not.toContain('torn');
  });

  it('skips invalid rewards (empty id, NaN, outside [0, 1]), rejects a batch without a replica, and never crashes', async () => {
    const { s, address } = await start();
    const client = new (aggregatorProto().Client)(address, grpc.credentials.createInsecure()) as unknown as {
      Rewards(): grpc.ClientDuplexStream<WireRewardBatch, { seq: number; accepted: number }>;
      close(): void;
    };
    const call = client.Rewards();
    const acks: Array<{ seq: number; accepted: number }> = [];
    call.on('data', (a) => acks.push(a));
    const status = new Promise<number>((r) => call.on('error', (e: grpc.ServiceError) => r(e.code)));
    const good = { decision_id: 'ok-1', route: 'chat', arm: 'model-a', reward: 0.5, source: 'response', time_ms: 1 };
    call.write({ replica: 'r9', seq: 1, rewards: [good, { ...good, decision_id: '' }, { ...good, decision_id: 'x', reward: Number.NaN }, { ...good, decision_id: 'y', reward: 1e300 }, { ...good, decision_id: 'z', reward: -5 }] });
    await waitFor(() => acks.length === 1);
    expect(acks[0]).toMatchObject({ seq: 1, accepted: 1 });
    expect(s.summary()).toMatchObject({ invalid: 4 });
    call.write({ replica: '', seq: 2, rewards: [good] });
    expect(await status).toBe(grpc.status.INVALID_ARGUMENT);
    client.close();
    await s.stop();
  });

  it('serves its fleet view for bootstrap as a pull message', async () => {
    const { s, address } = await start();
    // A slot written just now (one older than state.slot_expiry would be expired on arrival).
    s.fleet.merge({ slots: { r1: { replica: 'r1', version: 4, updated_at: Date.now(), routes: { chat: { 'model-a': { n: 3, sum: 2, sumSq: 2 } } } } } });
    const raw = await fetchAggregatorSnapshot(address, 'r2', 2000);
    const v = verifyMessage(raw, 'pull', null, Date.now());
    expect(v.ok && v.value.sender).toBe('aggregator');
    expect(v.ok && v.value.snapshot.slots.r1?.version).toBe(4);
    // It never holds (nor accepts) a slot under its own id.
    s.fleet.merge({ slots: { aggregator: { replica: 'aggregator', version: 1, updated_at: Date.now(), routes: {} } } });
    expect(Object.keys(s.fleet.snapshot().slots)).toEqual(['r1']);
    await s.stop();
    // …and persists it on shutdown.
    const file = JSON.parse(readFileSync(`${logFile}.snapshot.json`, 'utf8')) as { snapshot: { slots: Record<string, unknown> } };
    expect(Object.keys(file.snapshot.slots)).toEqual(['r1']);
  });
});

describe('AggregatorServer: one decision, one record', () => {
  it('logs one reward per decision identity (replica, sequence): re-encodings are invalid, another canonical id of the same identity is a duplicate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-agg-id-'));
    const logFile = join(dir, 'rewards.jsonl');
    try {
      const config = makeConfig({ replica: 'aggregator', aggregator: { address: '127.0.0.1:0', log_file: logFile } });
      const s = new AggregatorServer({ config, logger: silentLogger(), admin: false });
      await s.start();
      const codec = new DecisionIdCodec(Buffer.alloc(32, 1), 'r1', 1000);
      const id = codec.issue('chat', 'model-a', 1_700_000_000_000);
      const rec = (decision_id: string) => ({ decision_id, route: 'chat', arm: 'model-a', reward: 1, source: 'feedback', time_ms: 1 });
      // The same identity under another (canonical) payload: a later time, same replica and sequence.
      const parsed = parseDecisionId(id);
      if (!parsed.ok) throw parsed.error;
      const seq = parsed.value.fields.seq;
      const twin = `${Buffer.from(['1', 'chat', 'model-a', 'r1', (1_700_000_000_001).toString(36), seq.toString(36)].join('\u001f')).toString('base64url')}.${id.split('.')[1]}`;
      const ack = await s.ingest({ replica: 'r1', seq: 1, rewards: [rec(id), ...reencodings(id, 100).map(rec), rec(twin)] });
      expect(ack).toMatchObject({ ok: true, value: { accepted: 1, duplicates: 1 } });
      expect(s.summary()).toMatchObject({ rewards: 1, duplicates: 1, invalid: 100 });
      // A late replay after a restart: the index is rebuilt from the log by identity.
      await s.stop();
      const again = new AggregatorServer({ config, logger: silentLogger(), admin: false });
      await again.start();
      expect(await again.ingest({ replica: 'r1', seq: 2, rewards: [rec(id)] })).toMatchObject({ ok: true, value: { accepted: 0, duplicates: 1 } });
      expect(await again.ingest({ replica: '', seq: 3, rewards: [rec(id)] })).toMatchObject({ ok: false, error: { code: 'EB_REWARD_BATCH_INVALID' } });
      await again.stop();
      const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ decision_id: id });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
