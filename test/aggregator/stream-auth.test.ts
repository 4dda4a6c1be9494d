import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcRewardConnector } from '../../src/aggregator/connector.js';
import { AggregatorServer } from '../../src/aggregator/server.js';
import { signStream, verifyStream } from '../../src/aggregator/stream-auth.js';
import { silentLogger } from '../../src/util/logger.js';
import { freePort } from '../support/ports.js';
import { makeConfig } from '../support/aggregator-fixtures.js';

const SECRET = Buffer.from('fleet-secret-0123456789abcdef');

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

  describe('an aggregator with a fleet secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-sauth-'));
    let server: AggregatorServer;
    let address: string;

    beforeAll(async () => {
      writeFileSync(join(dir, 'secret'), SECRET.toString());
      address = `127.0.0.1:${await freePort()}`;
      const config = makeConfig({
        replica: 'aggregator',
        aggregator: { address, log_file: join(dir, 'log.jsonl') },
        gossip: { listen: `127.0.0.1:${await freePort()}`, peers: [], secret_file: join(dir, 'secret') },
      });
      server = new AggregatorServer({ config, logger: silentLogger() });
      await server.start();
    });
    afterAll(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Opens a stream, sends one batch, resolves with the ack's seq or the closing error's code. */
    function send(auth: (() => string) | undefined, batchReplica: string): Promise<{ ack?: number; code?: number }> {
      const c = grpcRewardConnector(address, auth);
      return new Promise((resolve) => {
        const s = c.connect({
          onAck: (a) => {
            resolve({ ack: Number(a.seq) });
            s.cancel();
            c.close();
          },
          onClose: (e) => {
            resolve({ code: (e as { code?: number } | null)?.code });
            c.close();
          },
        });
        s.send({ replica: batchReplica, seq: 1, rewards: [{ decision_id: `d-${Math.random().toString(36).slice(2)}`, route: 'chat', arm: 'model-a', reward: 1, source: 'response', time_ms: Date.now() }] });
      });
    }

    it('rejects a stream without authentication (UNAUTHENTICATED) and logs nothing from it', async () => {
      expect(await send(undefined, 'replica-1')).toEqual({ code: 16 });
      expect(server.summary().rewards).toBe(0);
    });

    it('accepts a signed stream, and rejects a batch that names another replica (PERMISSION_DENIED)', async () => {
      expect(await send(() => signStream(SECRET, 'replica-1', Date.now()), 'replica-1')).toEqual({ ack: 1 });
      expect(await send(() => signStream(SECRET, 'replica-1', Date.now()), 'replica-2')).toEqual({ code: 7 });
      expect(server.summary().rewards).toBe(1);
    });
  });
});
