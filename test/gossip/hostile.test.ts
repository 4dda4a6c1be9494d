/**
 * The gossip endpoint's hostile-input table: real gRPC to a real gossip server
 * (a replica's GossipNode with the fleet secret) on port 0. Every bad message is
 * refused with a gRPC status and a stable code in its details, none is merged,
 * and the server still answers a genuine push afterwards.
 */
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { computeMac, encodeMessage } from '../../src/gossip/message.js';
import { GossipNode } from '../../src/gossip/node.js';
import { gossipProto, type WireGossipMessage } from '../../src/gossip/proto.js';
import { createGossipServer, type GossipServer } from '../../src/gossip/server.js';
import { replicaGossipState } from '../../src/gossip/state.js';
import { GrpcGossipTransport } from '../../src/gossip/transport.js';
import { ReplicaState } from '../../src/state/replica-state.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createRng } from '../../src/util/rng.js';

const SECRET = Buffer.from('gossip-hostile-secret-0123456789');
const SHAPES = [{ name: 'chat', arms: ['a', 'b'], drift: { mode: 'none' as const } }];

type ExchangeClient = grpc.Client & { Exchange(m: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void): void };

describe('gossip endpoint: hostile inputs', () => {
  let server: GossipServer;
  let node: GossipNode;
  let state: ReplicaState;
  let address = '';
  let client: ExchangeClient;

  beforeAll(async () => {
    state = new ReplicaState('victim', SHAPES, systemClock);
    const transport = new GrpcGossipTransport();
    node = new GossipNode({
      state: replicaGossipState(state),
      peers: [],
      dns: null,
      listen: '127.0.0.1:0',
      intervalMs: 60_000,
      fanout: 1,
      syncTimeoutMs: 0,
      secret: SECRET,
      transport,
      clock: systemClock,
      rng: createRng(1),
      logger: silentLogger(),
      metrics: createMetrics(new Registry()),
    });
    server = createGossipServer(node, '127.0.0.1:0', silentLogger());
    address = (await server.start()).address;
    client = new (gossipProto().Client)(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 }) as unknown as ExchangeClient;
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  const exchange = (msg: unknown): Promise<{ status: number; details: string }> =>
    new Promise((resolve) => {
      client.Exchange(msg, new grpc.Metadata(), { deadline: Date.now() + 3_000 }, (e) => resolve(e ? { status: e.code, details: e.details } : { status: grpc.status.OK, details: '' }));
    });

  /** A push signed with `secret` over arbitrary snapshot bytes. */
  const signed = (snapshot: Buffer, o: { secret?: Buffer; time?: number; kind?: string; sender?: string } = {}): WireGossipMessage => {
    const time = o.time ?? Date.now();
    const kind = o.kind ?? 'push';
    const sender = o.sender ?? 'attacker';
    return { kind, sender, time_ms: time, snapshot, mac: computeMac(o.secret ?? SECRET, kind, sender, time, snapshot) };
  };
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const slot = (replica: string, extra: Record<string, unknown> = {}) => ({ replica, version: 1, updated_at: Date.now(), routes: { chat: { a: { n: 5, sum: 5, sumSq: 5 } } }, ...extra });

  const ROWS: Array<{ name: string; msg: () => unknown; status: grpc.status; code: string }> = [
    { name: 'empty message', msg: () => ({}), status: grpc.status.INVALID_ARGUMENT, code: 'EB_STATE_CORRUPT' },
    { name: 'no sender', msg: () => ({ ...signed(json({ slots: {} })), sender: '' }), status: grpc.status.INVALID_ARGUMENT, code: 'EB_STATE_CORRUPT' },
    { name: 'no MAC', msg: () => ({ ...signed(json({ slots: { x: slot('x') } })), mac: Buffer.alloc(0) }), status: grpc.status.UNAUTHENTICATED, code: 'EB_GOSSIP_AUTH' },
    { name: 'MAC under another secret', msg: () => signed(json({ slots: { x: slot('x') } }), { secret: Buffer.from('not-the-fleet-secret-98765') }), status: grpc.status.UNAUTHENTICATED, code: 'EB_GOSSIP_AUTH' },
    { name: 'signed snapshot altered after signing', msg: () => ({ ...signed(json({ slots: {} })), snapshot: json({ slots: { x: slot('x') } }) }), status: grpc.status.UNAUTHENTICATED, code: 'EB_GOSSIP_AUTH' },
    { name: 'a pull sent as a push', msg: () => signed(json({ slots: {} }), { kind: 'pull' }), status: grpc.status.UNAUTHENTICATED, code: 'EB_GOSSIP_AUTH' },
    { name: 'replayed: signed 10 min ago', msg: () => signed(json({ slots: { x: slot('x') } }), { time: Date.now() - 600_000 }), status: grpc.status.UNAUTHENTICATED, code: 'EB_GOSSIP_AUTH' },
    { name: 'dated 10 min ahead', msg: () => signed(json({ slots: { x: slot('x') } }), { time: Date.now() + 600_000 }), status: grpc.status.UNAUTHENTICATED, code: 'EB_GOSSIP_AUTH' },
    { name: 'signed, snapshot not JSON', msg: () => signed(Buffer.from('{"slots":')), status: grpc.status.INVALID_ARGUMENT, code: 'EB_STATE_CORRUPT' },
    { name: 'signed, snapshot of the wrong shape', msg: () => signed(json({ slots: 5 })), status: grpc.status.INVALID_ARGUMENT, code: 'EB_STATE_CORRUPT' },
    { name: 'signed, slot with negative counts', msg: () => signed(json({ slots: { x: slot('x', { routes: { chat: { a: { n: -1, sum: 0, sumSq: 0 } } } }) } })), status: grpc.status.INVALID_ARGUMENT, code: 'EB_STATE_CORRUPT' },
    { name: 'signed, JSON nested 100,000 deep', msg: () => signed(Buffer.from('['.repeat(100_000) + ']'.repeat(100_000))), status: grpc.status.INVALID_ARGUMENT, code: 'EB_STATE_CORRUPT' },
  ];

  it('refuses every row with its status and stable code, merges none, and still serves a genuine push', async () => {
    const got: Array<{ name: string; status: number; code: string | null }> = [];
    for (const r of ROWS) {
      const res = await exchange(r.msg());
      got.push({ name: r.name, status: res.status, code: /^(EB_[A-Z_]+)/.exec(res.details)?.[1] ?? null });
    }
    expect(got).toEqual(ROWS.map((r) => ({ name: r.name, status: r.status, code: r.code })));
    expect(Object.keys(state.snapshot().slots)).toEqual(['victim']);

    // A message past the 16 MiB cap is refused by gRPC itself (RESOURCE_EXHAUSTED), without being parsed.
    const huge = await exchange(signed(Buffer.alloc(17 << 20, 0x20)));
    expect(huge.status).toBe(grpc.status.RESOURCE_EXHAUSTED);

    // Plain HTTP/1.1 and random bytes on the gRPC port: the connection is closed; nothing else happens.
    for (const bytes of ['GET / HTTP/1.1\r\nhost: x\r\n\r\n', '\u0000\u0001garbage'.repeat(100)]) {
      await new Promise<void>((resolve) => {
        const s = connect(Number(address.split(':')[1]), '127.0.0.1', () => s.write(bytes));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 500);
      });
    }

    const genuine = encodeMessage('push', 'friend', { slots: { friend: slot('friend') } }, Date.now(), SECRET);
    expect(await exchange(genuine)).toEqual({ status: grpc.status.OK, details: '' });
    expect(Object.keys(state.snapshot().slots).sort()).toEqual(['friend', 'victim']);
  });
});
