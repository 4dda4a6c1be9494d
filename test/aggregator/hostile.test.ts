/**
 * The aggregator's hostile-input table, over real sockets (port 0): reward
 * streams (gRPC) and its admin HTTP port. A stream or batch that is not
 * authentic is refused with a gRPC status and `EB_REWARD_STREAM_AUTH`; rewards that
 * are not valid are acked but never logged (counted `invalid`); the admin port
 * answers coded 4xx; nothing crashes or hangs, and a genuine batch is logged
 * afterwards.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AggregatorServer } from '../../src/aggregator/server.js';
import { batchMac, signStream } from '../../src/aggregator/stream-auth.js';
import type { WireReward, WireRewardBatch } from '../../src/aggregator/proto.js';
import { silentLogger } from '../../src/util/logger.js';
import { makeConfig } from '../support/aggregator-fixtures.js';
import { actual, expected, HOSTILE_LIMITS, http, runRows, type Row } from '../support/hostile.js';
import { rawRewardStream, waitFor } from '../support/reward-stream.js';

const SECRET = Buffer.from('aggregator-hostile-secret-0123456789');
const ok = (id: string): WireReward => ({ decision_id: id, route: 'chat', arm: 'model-a', reward: 0.5, source: 'response', time_ms: Date.now() });

describe('aggregator: hostile inputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-agg-hostile-'));
  const logFile = join(dir, 'log.jsonl');
  let server: AggregatorServer;
  let address = '';
  let adminPort = 0;

  beforeAll(async () => {
    writeFileSync(join(dir, 'secret'), SECRET.toString());
    const config = makeConfig({
      replica: 'aggregator',
      aggregator: { address: '127.0.0.1:0', log_file: logFile },
      gossip: { listen: '127.0.0.1:0', peers: [], secret_file: join(dir, 'secret') },
    });
    server = new AggregatorServer({ config, logger: silentLogger(), adminLimits: HOSTILE_LIMITS });
    const a = await server.start();
    address = a.aggregator;
    adminPort = Number(a.admin.slice(a.admin.lastIndexOf(':') + 1));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const header = (o: { secret?: Buffer; time?: number; replica?: string } = {}) => signStream(o.secret ?? SECRET, o.replica ?? 'r1', o.time ?? Date.now());
  const logged = () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { decision_id: string }).decision_id);

  /** Opens a stream with `head`, sends what `batches(nonce)` gives, resolves with the acks' counts or the closing status. */
  async function play(head: string | null, batches: (nonce: string) => WireRewardBatch[]) {
    const s = rawRewardStream(address, head);
    const nonce = await Promise.race([s.nonce, s.status.then(() => '')]);
    const list = batches(nonce);
    for (const b of list) s.call.write(b);
    const closed = await Promise.race([s.status, waitFor(() => s.acks.length >= list.length, 3_000).then(() => null)]);
    s.close();
    const code = closed ? /^(EB_[A-Z_]+)/.exec(closed.details)?.[1] ?? null : null;
    return { status: closed?.code ?? grpc.status.OK, code, acks: s.acks.map((a) => ({ accepted: a.accepted, duplicates: a.duplicates })) };
  }
  const sign = (nonce: string, b: WireRewardBatch): WireRewardBatch => ({ ...b, mac: batchMac(SECRET, nonce, b) });

  it('refuses every stream and batch row with its status and code, logs only genuine valid rewards, then still takes a genuine batch', async () => {
    const rows: Array<{ name: string; run: () => ReturnType<typeof play>; want: { status: number; code: string | null; acks?: Array<{ accepted: number; duplicates: number }> } }> = [
      { name: 'no stream header', run: () => play(null, () => [{ replica: 'r1', seq: 1, rewards: [ok('h-1')] }]), want: { status: grpc.status.UNAUTHENTICATED, code: 'EB_REWARD_STREAM_AUTH' } },
      { name: 'garbage stream header', run: () => play('not.a.header.at.all', () => [{ replica: 'r1', seq: 1, rewards: [ok('h-2')] }]), want: { status: grpc.status.UNAUTHENTICATED, code: 'EB_REWARD_STREAM_AUTH' } },
      { name: 'header signed with another secret', run: () => play(header({ secret: Buffer.from('another-secret-abcdefghij') }), () => []), want: { status: grpc.status.UNAUTHENTICATED, code: 'EB_REWARD_STREAM_AUTH' } },
      { name: 'header signed 10 min ago', run: () => play(header({ time: Date.now() - 600_000 }), () => []), want: { status: grpc.status.UNAUTHENTICATED, code: 'EB_REWARD_STREAM_AUTH' } },
      { name: 'batch without a MAC', run: () => play(header(), () => [{ replica: 'r1', seq: 1, rewards: [ok('h-3')] }]), want: { status: grpc.status.UNAUTHENTICATED, code: 'EB_REWARD_STREAM_AUTH' } },
      { name: 'batch MAC of the wrong length', run: () => play(header(), () => [{ replica: 'r1', seq: 1, rewards: [ok('h-4')], mac: Buffer.alloc(3) }]), want: { status: grpc.status.UNAUTHENTICATED, code: 'EB_REWARD_STREAM_AUTH' } },
      { name: 'batch naming another replica', run: () => play(header(), (n) => [sign(n, { replica: 'r2', seq: 1, rewards: [ok('h-5')] })]), want: { status: grpc.status.PERMISSION_DENIED, code: 'EB_REWARD_STREAM_AUTH' } },
      { name: 'batch without a replica', run: () => play(header(), (n) => [sign(n, { replica: '', seq: 1, rewards: [ok('h-6')] })]), want: { status: grpc.status.PERMISSION_DENIED, code: 'EB_REWARD_STREAM_AUTH' } },
      { name: 'batch seq 0', run: () => play(header(), (n) => [sign(n, { replica: 'r1', seq: 0, rewards: [ok('h-7')] })]), want: { status: grpc.status.UNAUTHENTICATED, code: 'EB_REWARD_STREAM_AUTH' } },
      {
        name: 'invalid rewards (1e300, -5, NaN, empty id, 10 kB id, empty arm): acked, none logged',
        run: () =>
          play(header(), (n) => [
            sign(n, {
              replica: 'r1',
              seq: 1,
              rewards: [{ ...ok('i-1'), reward: 1e300 }, { ...ok('i-2'), reward: -5 }, { ...ok('i-3'), reward: Number.NaN }, ok(''), ok('x'.repeat(10_000)), { ...ok('i-6'), arm: '' }],
            }),
          ]),
        want: { status: grpc.status.OK, code: null, acks: [{ accepted: 0, duplicates: 0 }] },
      },
      {
        name: 'one genuine reward sent twice in one batch and again in the next: logged once',
        run: () => play(header(), (n) => [sign(n, { replica: 'r1', seq: 1, rewards: [ok('g-1'), ok('g-1')] }), sign(n, { replica: 'r1', seq: 2, rewards: [ok('g-1')] })]),
        want: { status: grpc.status.OK, code: null, acks: [{ accepted: 1, duplicates: 1 }, { accepted: 0, duplicates: 1 }] },
      },
      {
        name: 'batch over the 16 MiB message cap',
        run: () => play(header(), (n) => [sign(n, { replica: 'r1', seq: 1, rewards: Array.from({ length: 1_200 }, (_, i) => ok(`big-${i}-${'z'.repeat(16_000)}`)) })]),
        want: { status: grpc.status.RESOURCE_EXHAUSTED, code: null },
      },
    ];
    const got = [];
    for (const r of rows) got.push({ name: r.name, ...(await r.run()) });
    expect(got.map((g, i) => ({ name: g.name, status: g.status, code: g.code, ...(rows[i]!.want.acks ? { acks: g.acks } : {}) }))).toEqual(rows.map((r) => ({ name: r.name, ...r.want })));
    expect(logged()).toEqual(['g-1']);
    expect(server.summary()).toMatchObject({ rewards: 1, invalid: 6, duplicates: 2 });

    const after = await play(header(), (n) => [sign(n, { replica: 'r1', seq: 1, rewards: [ok('after-1')] })]);
    expect(after).toEqual({ status: grpc.status.OK, code: null, acks: [{ accepted: 1, duplicates: 0 }] });
    expect(logged()).toEqual(['g-1', 'after-1']);
  });

  it('its admin port answers hostile HTTP with coded 4xx, no 500, no hang', async () => {
    const ROWS: Row[] = [
      { name: 'summary', pieces: [http('GET', '/v1/summary')], status: 200, code: null },
      { name: 'malformed absolute URL', pieces: [http('GET', 'http://x:bad/v1/summary')], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
      { name: 'POST on a GET endpoint', pieces: [http('POST', '/v1/summary', { body: '{}' })], status: 405, code: 'EB_ADMIN_METHOD_NOT_ALLOWED' },
      { name: 'a method HTTP knows, not taken here (PURGE)', pieces: [http('PURGE', '/v1/summary')], status: 405, code: 'EB_ADMIN_METHOD_NOT_ALLOWED' },
      { name: 'a method HTTP does not know (BREW)', pieces: [http('BREW', '/v1/summary')], status: 501, code: 'EB_ADMIN_METHOD_NOT_ALLOWED' },
      { name: 'unknown endpoint', pieces: [http('GET', '/v1/routes')], status: 404, code: 'EB_ADMIN_NOT_FOUND' },
      { name: 'headers over 16 KiB', pieces: [http('GET', '/v1/summary', { headers: { 'x-big': 'h'.repeat(32_000) } })], status: 431, code: 'EB_ADMIN_TOO_LARGE' },
      { name: 'slow headers', pieces: ['GET /v1/summary HTTP/1.1\r\n', ...Array.from({ length: 10 }, (_, i) => `x-${i}: 1\r\n`)], gapMs: 150, status: 408, code: 'EB_ADMIN_TIMEOUT' },
    ];
    expect(actual(await runRows(adminPort, ROWS))).toEqual(expected(ROWS));
    const again = await runRows(adminPort, [ROWS[0]!]);
    expect(again[0]!.status).toBe(200);
  });
});
