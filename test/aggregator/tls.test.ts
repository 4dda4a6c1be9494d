/**
 * Optional mutual TLS on the aggregator's reward stream and on gossip, with
 * certificates made in the test by the openssl CLI: a member with a certificate
 * from the fleet's CA is served; plaintext and a foreign CA's certificate are
 * refused; new files are taken on reload (a half-written set is not), and the
 * next connection uses them — no restart.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcRewardConnector } from '../../src/aggregator/connector.js';
import { AggregatorServer } from '../../src/aggregator/server.js';
import { signStream } from '../../src/aggregator/stream-auth.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { encodeMessage } from '../../src/gossip/message.js';
import { GrpcGossipTransport } from '../../src/gossip/transport.js';
import { silentLogger } from '../../src/util/logger.js';
import { TlsFiles } from '../../src/util/tls-files.js';
import { makeCa, makeLeaf } from '../support/certs.js';
import { rawRewardStream } from '../support/reward-stream.js';

const SECRET = 'tls-test-fleet-secret-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'eb-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ca = makeCa(dir, 'fleet-ca');
const other = makeCa(dir, 'other-ca');
const server = makeLeaf(dir, 'aggregator', ca);
const member = makeLeaf(dir, 'replica', ca);
const stranger = makeLeaf(dir, 'stranger', other);

/** The files the aggregator reads: copies, so the test can rotate them. */
const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key'), ca: join(dir, 'live-ca.crt') };
copyFileSync(server.cert, live.cert);
copyFileSync(server.key, live.key);
copyFileSync(ca.cert, live.ca);
writeFileSync(join(dir, 'secret'), SECRET);

function config(): Config {
  const yaml = [
    'replica_id: aggregator',
    'listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }',
    'routes: [{ name: chat, match: { path_prefix: / }, arms: [{ name: a, cluster: a }] }]',
    `aggregator: { address: 127.0.0.1:0, log_file: ${join(dir, 'rewards.jsonl')} }`,
    `gossip: { listen: 127.0.0.1:0, peers: [], secret_file: ${join(dir, 'secret')} }`,
    `tls: { cert: ${live.cert}, key: ${live.key}, ca: ${live.ca}, reload: 1h }`,
    'log: { level: silent }',
  ].join('\n');
  const r = parseConfig(yaml, { env: {}, hostname: 'aggregator' });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

async function clientTls(leaf: { cert: string; key: string }, trust = ca.cert): Promise<TlsFiles> {
  const t = new TlsFiles({ cert: leaf.cert, key: leaf.key, ca: trust, reload_ms: 3_600_000 });
  await t.start();
  return t;
}

describe('mutual TLS on the reward stream and gossip', () => {
  let agg: AggregatorServer;
  let addresses: { aggregator: string; gossip: string };
  beforeAll(async () => {
    agg = new AggregatorServer({ config: config(), logger: silentLogger(), admin: false });
    addresses = await agg.start();
  });
  afterAll(async () => {
    await agg?.stop();
  });

  /** Sends one signed batch with the given channel credentials; the ack or the closing status code. */
  async function sendOne(credentials: grpc.ChannelCredentials, id: string): Promise<{ ack?: number; code?: number }> {
    const c = grpcRewardConnector(addresses.aggregator, { auth: { secret: Buffer.from(SECRET), replica: 'r1', now: () => Date.now() }, credentials });
    try {
      return await new Promise((resolve) => {
        const conn = c.connect({ onAck: (a) => resolve({ ack: Number(a.seq) }), onClose: (e) => resolve({ code: (e as grpc.ServiceError | null)?.code }) });
        conn.send({ replica: 'r1', seq: 1, rewards: [{ decision_id: id, route: 'chat', arm: 'a', reward: 1, source: 'response', time_ms: 1 }] });
        setTimeout(() => resolve({ code: -1 }), 5_000);
      });
    } finally {
      c.close();
    }
  }

  it('the reward stream: a member is served; plaintext and a foreign CA are refused', async () => {
    const mine = await clientTls(member);
    expect(await sendOne(mine.channelCredentials(), 'tls-1')).toEqual({ ack: 1 });
    expect((await sendOne(grpc.credentials.createInsecure(), 'plain-1')).code).toBe(grpc.status.UNAVAILABLE);
    const theirs = await clientTls(stranger, other.cert);
    expect((await sendOne(theirs.channelCredentials(), 'stranger-1')).code).toBe(grpc.status.UNAVAILABLE);
    expect(agg.summary().rewards).toBe(1);
    // The signed header alone does not help a plaintext client either.
    const raw = rawRewardStream(addresses.aggregator, signStream(Buffer.from(SECRET), 'r1', Date.now()));
    expect((await raw.status).code).toBe(grpc.status.UNAVAILABLE);
    raw.close();
  });

  it('gossip: a member exchanges; a plaintext peer cannot', async () => {
    const mine = await clientTls(member);
    const msg = encodeMessage('push', 'peer-1', { slots: {} }, Date.now(), Buffer.from(SECRET));
    const t = new GrpcGossipTransport(mine.channelCredentials());
    await expect(t.exchange(addresses.gossip, msg, 3_000)).resolves.toMatchObject({ kind: 'pull' });
    t.close();
    const plain = new GrpcGossipTransport();
    await expect(plain.exchange(addresses.gossip, msg, 3_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    plain.close();
  });

  it('reload: a half-written set is skipped and the old one kept; a whole new set is taken and the next connection uses it', async () => {
    const tls = new TlsFiles({ ...live, reload_ms: 3_600_000 });
    await tls.start();
    // A rotation caught half-way: the other CA's certificate with the old key.
    writeFileSync(live.cert, readFileSync(stranger.cert));
    expect(await tls.reload()).toBe(false);
    expect(tls.refused).toBe(1);
    // The whole set, trusting both CAs: the stranger becomes a member.
    writeFileSync(live.key, readFileSync(stranger.key));
    writeFileSync(live.ca, Buffer.concat([readFileSync(ca.cert), readFileSync(other.cert)]));
    expect(await tls.reload()).toBe(true);
    expect(await tls.reload()).toBe(false);
    tls.stop();
    // The aggregator's own watcher picks the files up on its reload (interval or SIGHUP).
    await agg.reloadTls();
    const theirs = await clientTls(stranger, live.ca);
    expect(await sendOne(theirs.channelCredentials(), 'after-reload-1')).toEqual({ ack: 1 });
  });

  it('a tls section whose files do not load together stops the start with a config error naming them', async () => {
    const bad = new TlsFiles({ cert: member.cert, key: stranger.key, ca: ca.cert, reload_ms: 1_000 });
    await expect(bad.start()).rejects.toMatchObject({ code: 'EB_CONFIG_INVALID', message: expect.stringContaining(member.cert) });
  });
});
