import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcRewardConnector } from '../../src/aggregator/connector.js';
import { AggregatorServer } from '../../src/aggregator/server.js';
import { batchMac, signStream, verifyBatch, verifyStream } from '../../src/aggregator/stream-auth.js';
import type { WireRewardBatch } from '../../src/aggregator/proto.js';
import { silentLogger } from '../../src/util/logger.js';
import { makeConfig } from '../support/aggregator-fixtures.js';
import { rawRewardStream, waitFor } from '../support/reward-stream.js';

const SECRET = Buffer.from('fleet-secret-0123456789abcdef');
const reward = (id: string, value = 1) => ({ decision_id: id, route: 'chat', arm: 'model-a', reward: value, source: 'response', time_ms: 1_700_000_000_000 });
const batch = (replica: string, seq: number, ids: string[]): WireRewardBatch => ({ replica, seq, rewards: ids.map((id) => reward(id)) });

describe('reward stream authentication', () => {
  it('a signed value names its replica; a wrong key, a stale time or garbage does not verify', () => {
    const v = signStream(SECRET, 'replica-1', 1_000_000);
    expect(verifyStream(SECRET, v, 1_000_500)).toEqual({ ok: true, value: { replica: 'replica-1' } });
    expect(verifyStream(Buffer.from('another-secret-0123456789'), v, 1_000_500)).toMatchObject({ ok: false, error: { code: 'EB_REWARD_STREAM_AUTH', message: 'bad signature' } });
    expect(verifyStream(SECRET, v, 1_000_000 + 31_000)).toMatchObject({ ok: false, error: { code: 'EB_REWARD_STREAM_AUTH', message: expect.stringContaining('outside') } });
    expect(verifyStream(SECRET, undefined, 0)).toMatchObject({ ok: false, error: { code: 'EB_REWARD_STREAM_AUTH', message: expect.stringContaining('missing') } });
    expect(verifyStream(SECRET, 'a.b', 0)).toMatchObject({ ok: false, error: { code: 'EB_REWARD_STREAM_AUTH', message: expect.stringContaining('malformed') } });
    // Re-labelling the replica breaks the signature.
    const [t, , mac] = v.split('.');
    expect(verifyStream(SECRET, `${t}.${Buffer.from('replica-2').toString('base64url')}.${mac}`, 1_000_500)).toMatchObject({ ok: false, error: { code: 'EB_REWARD_STREAM_AUTH', message: 'bad signature' } });
  });

  it('a batch MAC is byte-compatible with every replica version (fixed vectors)', () => {
    const b: WireRewardBatch = {
      replica: 'replica-1',
      seq: 7,
      rewards: [
        { decision_id: 'd1', route: 'chat', arm: 'model-a', reward: 0.25, source: 'response', time_ms: 1_700_000_000_000 },
        { decision_id: 'd2', route: 'chat', arm: 'model-b', reward: 1, source: 'feedback', time_ms: 1_700_000_000_001 },
      ],
    };
    const golden = Buffer.from('golden-secret-0123456789abcdef');
    expect(batchMac(golden, 'nonce-1', b).toString('hex')).toBe('e7b2b0bcba36330f46322ddaaa6c4181');
    expect(batchMac(golden, 'nonce-1', { replica: 'replica-1', seq: 8, rewards: [] }).toString('hex')).toBe('6027362f496e6ea22608d8854c772336');
  });

  it('a batch MAC covers the nonce, replica, seq and every reward field; a seq not above the last is a replay', () => {
    const b = { ...batch('r1', 3, ['a', 'b']) };
    const signed = { ...b, mac: batchMac(SECRET, 'nonce-1', b) };
    expect(verifyBatch(SECRET, 'nonce-1', 'r1', 2, signed)).toEqual({ ok: true, value: undefined });
    const refused = (r: ReturnType<typeof verifyBatch>) => (r.ok ? 'accepted' : `${r.error.code} ${r.error.reason}`);
    expect(refused(verifyBatch(SECRET, 'nonce-2', 'r1', 2, signed))).toBe('EB_REWARD_STREAM_AUTH bad_mac');
    expect(refused(verifyBatch(SECRET, 'nonce-1', 'r1', 3, signed))).toBe('EB_REWARD_STREAM_AUTH seq_replay');
    expect(refused(verifyBatch(SECRET, 'nonce-1', 'r2', 2, signed))).toBe('EB_REWARD_STREAM_AUTH replica_mismatch');
    expect(refused(verifyBatch(SECRET, 'nonce-1', 'r1', 2, b))).toBe('EB_REWARD_STREAM_AUTH missing_mac');
    const inflated = { ...signed, rewards: [reward('a', 0.99), reward('b')] };
    expect(refused(verifyBatch(SECRET, 'nonce-1', 'r1', 2, inflated))).toBe('EB_REWARD_STREAM_AUTH bad_mac');
    const later = { ...signed, seq: 4 };
    expect(refused(verifyBatch(SECRET, 'nonce-1', 'r1', 2, later))).toBe('EB_REWARD_STREAM_AUTH bad_mac');
    expect(verifyBatch(SECRET, 'nonce-1', 'r1', 3, signed)).toMatchObject({ ok: false, error: { message: "batch seq 3 not above the stream's last (3): replayed" } });
  });

  describe('an aggregator with a fleet secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-sauth-'));
    let server: AggregatorServer;
    let address: string;

    beforeAll(async () => {
      writeFileSync(join(dir, 'secret'), SECRET.toString());
      const config = makeConfig({
        replica: 'aggregator',
        aggregator: { address: '127.0.0.1:0', log_file: join(dir, 'log.jsonl') },
        gossip: { listen: '127.0.0.1:0', peers: [], secret_file: join(dir, 'secret') },
      });
      server = new AggregatorServer({ config, logger: silentLogger() });
      address = (await server.start()).aggregator;
    });
    afterAll(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const authFailures = async (reason: string): Promise<number> => {
      const m = await server.metrics.registry.getSingleMetric('envoy_bandit_aggregator_auth_failures_total')!.get();
      return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
    };

    it('rejects a stream without authentication (UNAUTHENTICATED, EB_REWARD_STREAM_AUTH) and logs nothing from it', async () => {
      const s = rawRewardStream(address, null);
      s.call.write(batch('replica-1', 1, ['x-1']));
      expect(await s.status).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('EB_REWARD_STREAM_AUTH') });
      s.close();
      expect(server.summary().rewards).toBe(0);
      expect(await authFailures('stream_header')).toBe(1);
    });

    it('the sidecar connector signs the stream and every batch; acks come back and rewards are logged', async () => {
      const c = grpcRewardConnector(address, { auth: { secret: SECRET, replica: 'replica-1', now: () => Date.now() } });
      const acks: number[] = [];
      const conn = c.connect({ onAck: (a) => acks.push(Number(a.seq)), onClose: () => undefined });
      conn.send(batch('replica-1', 1, ['ok-1', 'ok-2']));
      conn.send(batch('replica-1', 2, ['ok-3']));
      await waitFor(() => acks.length === 2);
      expect(acks).toEqual([1, 2]);
      conn.cancel();
      c.close();
      expect(server.summary().rewards).toBe(3);
    });

    it('refuses a batch without a MAC, with a bad MAC, naming another replica, or replayed — each with its reason counted', async () => {
      const header = () => signStream(SECRET, 'replica-1', Date.now());
      const before = server.summary().rewards;

      const noMac = rawRewardStream(address, header());
      await noMac.nonce;
      noMac.call.write(batch('replica-1', 1, ['nm-1']));
      expect(await noMac.status).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('no MAC') });
      noMac.close();

      const forged = rawRewardStream(address, header());
      await forged.nonce;
      forged.call.write({ ...batch('replica-1', 1, ['fg-1']), mac: Buffer.alloc(16, 7) });
      expect(await forged.status).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('bad MAC') });
      forged.close();

      const other = rawRewardStream(address, header());
      const n = await other.nonce;
      const b2 = batch('replica-2', 1, ['ot-1']);
      other.call.write({ ...b2, mac: batchMac(SECRET, n, b2) });
      expect(await other.status).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringContaining('EB_REWARD_STREAM_AUTH') });
      other.close();

      // A genuine batch, then the same bytes again on the same stream: the replay is refused.
      const replay = rawRewardStream(address, header());
      const nonce = await replay.nonce;
      const genuine = batch('replica-1', 1, ['rp-1']);
      const signed = { ...genuine, mac: batchMac(SECRET, nonce, genuine) };
      replay.call.write(signed);
      await waitFor(() => replay.acks.length === 1);
      expect(replay.acks.map((a) => Number(a.seq))).toEqual([1]);
      replay.call.write(signed);
      expect(await replay.status).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('replayed') });
      replay.close();

      // The captured stream header and batch, replayed on a new stream: a new nonce, so the batch no longer verifies.
      const capturedHeader = header();
      const first = rawRewardStream(address, capturedHeader);
      const n1 = await first.nonce;
      const cap = batch('replica-1', 1, ['cp-1']);
      const capSigned = { ...cap, mac: batchMac(SECRET, n1, cap) };
      first.call.write(capSigned);
      await waitFor(() => first.acks.length === 1);
      first.close();
      const again = rawRewardStream(address, capturedHeader);
      const n2 = await again.nonce;
      expect(n2).not.toBe(n1);
      again.call.write(capSigned);
      expect(await again.status).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('bad MAC') });
      again.close();

      expect(server.summary().rewards - before).toBe(2);
      expect(await authFailures('missing_mac')).toBe(1);
      expect(await authFailures('bad_mac')).toBe(2);
      expect(await authFailures('replica_mismatch')).toBe(1);
      expect(await authFailures('seq_replay')).toBe(1);
    });
  });
});
