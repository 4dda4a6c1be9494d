import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExtProcHandler, HeaderList, RequestBodyReply, RequestHeadersReply, ResponseHeadersReply, StreamContext, StreamEndReason } from '../../src/extproc/handler.js';
import { createExtProcServer, type ExtProcErrorKind, type ExtProcServer, type ExtProcTransport } from '../../src/extproc/server.js';
import { createFakeEnvoy, healthCheck, requestHeadersMsg, responseHeadersMsg, setHeadersOf } from '../support/extproc-client.js';

/**
 * Scriptable handler that records what it saw. It never asserts itself: the
 * server fails open when a handler throws, so an `expect` in here would be
 * swallowed. Tests assert on what it recorded and on the replies on the wire.
 */
class ScriptedHandler implements ExtProcHandler<string> {
  requestReply: ((h: HeaderList) => RequestHeadersReply | null) = (h) => ({
    set: [['x-bandit-cluster', h.get('x-want') ?? 'model_b']],
    remove: [],
    clearRouteCache: true,
  });
  responseReply: ((h: HeaderList, s: StreamContext<string>) => ResponseHeadersReply | null) = (h) => ({ set: [['x-bandit-arm', `arm-for-${h.get(':status')}`]] });
  bodyReply: ((body: Buffer, eos: boolean) => RequestBodyReply | null) = () => null;
  /** Per request body: its text, end_of_stream, and whether the stream's own decision came with it. */
  bodies: [string, boolean][] = [];
  bodyDecisionsOk = true;
  requestCalls = 0;
  responseCalls = 0;
  ends: [number, StreamEndReason][] = [];
  /** Per response phase: the stream id and the decision its context carried back. */
  readBack: Array<[number, string | undefined]> = [];

  onRequestHeaders(h: HeaderList, s: StreamContext<string>): RequestHeadersReply | null {
    this.requestCalls++;
    s.decision = h.get('x-want') ?? `decision-${s.id}`;
    return this.requestReply(h);
  }
  onResponseHeaders(h: HeaderList, s: StreamContext<string>): ResponseHeadersReply | null {
    this.responseCalls++;
    this.readBack.push([s.id, s.decision]);
    return this.responseReply(h, s);
  }
  onRequestBody(body: Buffer, eos: boolean, s: StreamContext<string>): RequestBodyReply | null {
    if (s.decision !== `decision-${s.id}`) this.bodyDecisionsOk = false;
    this.bodies.push([body.toString('utf8'), eos]);
    return this.bodyReply(body, eos);
  }
  onStreamEnd(s: StreamContext<string>, reason: StreamEndReason): void {
    this.ends.push([s.id, reason]);
  }
}

const TRANSPORTS: ExtProcTransport[] = ['grpc-js', 'http2'];

describe.each(TRANSPORTS)('ext_proc server (%s) with a grpc-js fake Envoy', (transport) => {
  let handler: ScriptedHandler;
  let server: ExtProcServer;
  let address: string;
  let envoy: ReturnType<typeof createFakeEnvoy>;
  const errors: ExtProcErrorKind[] = [];
  const outcomes: StreamEndReason[] = [];

  beforeAll(async () => {
    handler = new ScriptedHandler();
    server = createExtProcServer<string>({
      handler: {
        onRequestHeaders: (h, s) => handler.onRequestHeaders(h, s),
        onResponseHeaders: (h, s) => handler.onResponseHeaders(h, s),
        onRequestBody: (b, e, s) => handler.onRequestBody(b, e, s),
        onStreamEnd: (s, r) => handler.onStreamEnd(s, r),
      },
      address: '127.0.0.1:0',
      transport,
      onError: (k) => errors.push(k),
      onStreamEnd: (o) => outcomes.push(o),
    });
    const bound = await server.start();
    expect(bound.port).toBeGreaterThan(0);
    address = bound.address;
    envoy = createFakeEnvoy(address);
  });

  afterAll(async () => {
    envoy.close();
    await server.close();
  });

  afterEach(() => {
    handler = new ScriptedHandler();
    errors.length = 0;
    outcomes.length = 0;
  });

  async function waitFor(cond: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(cond(), what).toBe(true);
  }

  it('answers request and response headers with the matching oneof and ends OK', async () => {
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/v1/chat', 'x-want': 'model_c' }));
    const r1 = await s.next();
    expect(r1.response).toBe('request_headers');
    expect(setHeadersOf(r1, 'request_headers')).toEqual([['x-bandit-cluster', 'model_c']]);
    expect((r1.request_headers as { response: { clear_route_cache: boolean } }).response.clear_route_cache).toBe(true);
    s.send(responseHeadersMsg({ ':status': '200' }));
    const r2 = await s.next();
    expect(r2.response).toBe('response_headers');
    expect(setHeadersOf(r2, 'response_headers')).toEqual([['x-bandit-arm', 'arm-for-200']]);
    s.end();
    expect((await s.status).code).toBe(grpc.status.OK);
    await waitFor(() => handler.ends.length === 1, 'onStreamEnd called');
    expect(handler.ends[0]![1]).toBe('ok');
    expect(outcomes).toEqual(['ok']);
    expect(errors).toEqual([]);
  });

  it('a null reply is an empty continue', async () => {
    handler.requestReply = () => null;
    handler.responseReply = () => null;
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/other' }));
    expect(await s.next()).toEqual({ request_headers: {}, response: 'request_headers' });
    s.send(responseHeadersMsg({ ':status': '404' }));
    expect(await s.next()).toEqual({ response_headers: {}, response: 'response_headers' });
    s.end();
    expect((await s.status).code).toBe(grpc.status.OK);
  });

  it('out-of-order messages get a continue of the matching kind and are counted', async () => {
    const s = envoy.open();
    s.send(responseHeadersMsg({ ':status': '200' }));
    expect((await s.next()).response).toBe('response_headers');
    s.send(requestHeadersMsg({ ':path': '/a' }));
    expect(setHeadersOf(await s.next(), 'request_headers')).toEqual([['x-bandit-cluster', 'model_b']]);
    s.send(requestHeadersMsg({ ':path': '/again' }));
    expect(await s.next()).toEqual({ request_headers: {}, response: 'request_headers' });
    s.send(responseHeadersMsg({ ':status': '200' }));
    expect((await s.next()).response).toBe('response_headers');
    s.send(responseHeadersMsg({ ':status': '200' }));
    expect(await s.next()).toEqual({ response_headers: {}, response: 'response_headers' });
    s.end();
    await s.status;
    expect(errors).toEqual(['out_of_order', 'out_of_order', 'out_of_order']);
    expect(handler.requestCalls).toBe(1);
    expect(handler.responseCalls).toBe(1);
  });

  it('unexpected phases (bodies, trailers) are answered in kind', async () => {
    const s = envoy.open();
    const cases: [object, string][] = [
      [{ request_body: { body: Buffer.from('x'), end_of_stream: true } }, 'request_body'],
      [{ response_body: { body: Buffer.from('y') } }, 'response_body'],
      [{ request_trailers: { trailers: { headers: [] } } }, 'request_trailers'],
      [{ response_trailers: { trailers: { headers: [{ key: 'grpc-status', raw_value: Buffer.from('0') }] } } }, 'response_trailers'],
    ];
    for (const [msg, kind] of cases) {
      s.send(msg);
      expect(await s.next()).toEqual({ [kind]: {}, response: kind });
    }
    s.end();
    expect((await s.status).code).toBe(grpc.status.OK);
    // a request body before any request headers is out of order; the others are phases never configured
    expect(errors).toEqual(['out_of_order', 'unexpected_phase', 'unexpected_phase', 'unexpected_phase']);
    expect(handler.bodies).toEqual([]);
  });

  it('a buffered request body reaches the handler once; its reply replaces the body, null continues', async () => {
    handler.bodyReply = (b) => ({ body: Buffer.from(b.toString('utf8').toUpperCase()) });
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/a' }));
    await s.next();
    s.send({ request_body: { body: Buffer.from('{"model":"x"}'), end_of_stream: true } });
    const r = (await s.next()) as { request_body: { response: { body_mutation: { body: Buffer } } } };
    expect(Buffer.from(r.request_body.response.body_mutation.body).toString('utf8')).toBe('{"MODEL":"X"}');
    // a second body message (streamed chunks after a partial buffer) is not shown to the handler
    s.send({ request_body: { body: Buffer.from('tail'), end_of_stream: true } });
    expect(await s.next()).toEqual({ request_body: {}, response: 'request_body' });
    s.end();
    await s.status;
    const s2 = envoy.open();
    handler.bodyReply = () => null;
    s2.send(requestHeadersMsg({ ':path': '/a' }));
    await s2.next();
    s2.send({ request_body: { body: Buffer.from('partial'), end_of_stream: false } });
    expect(await s2.next()).toEqual({ request_body: {}, response: 'request_body' });
    s2.end();
    await s2.status;
    expect(handler.bodies).toEqual([['{"model":"x"}', true], ['partial', false]]);
    expect(handler.bodyDecisionsOk).toBe(true);
    handler.bodies.length = 0;
  });

  it('observability_mode messages get no answer and do not reach the handler', async () => {
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/obs' }, { observability_mode: true }));
    s.send(requestHeadersMsg({ ':path': '/real', 'x-want': 'model_a' }));
    const r = await s.next();
    expect(setHeadersOf(r, 'request_headers')).toEqual([['x-bandit-cluster', 'model_a']]);
    s.end();
    await s.status;
    expect(s.pending).toBe(0);
    expect(handler.requestCalls).toBe(1);
  });

  it('a throwing handler fails open (continue) and is counted', async () => {
    handler.requestReply = () => {
      throw new Error('boom');
    };
    handler.responseReply = () => {
      throw new Error('boom2');
    };
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/a' }));
    expect(await s.next()).toEqual({ request_headers: {}, response: 'request_headers' });
    s.send(responseHeadersMsg({ ':status': '200' }));
    expect(await s.next()).toEqual({ response_headers: {}, response: 'response_headers' });
    s.end();
    expect((await s.status).code).toBe(grpc.status.OK);
    expect(errors).toEqual(['handler', 'handler']);
  });

  it('a client cancel ends the stream once as cancelled', async () => {
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/a' }));
    await s.next();
    s.cancel();
    expect((await s.status).code).toBe(grpc.status.CANCELLED);
    await waitFor(() => handler.ends.length === 1, 'onStreamEnd after cancel');
    expect(handler.ends[0]![1]).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 50));
    expect(handler.ends.length).toBe(1);
    expect(outcomes).toEqual(['cancelled']);
  });

  it('a malformed message ends the call with INVALID_ARGUMENT, the server keeps serving', async () => {
    const s = envoy.open();
    s.send(Buffer.from([0x12, 0x05, 0x0a]));
    const st = await s.status;
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    await waitFor(() => handler.ends.length === 1, 'onStreamEnd after malformed');
    expect(handler.ends[0]![1]).toBe('error');
    expect(outcomes).toEqual(['error']);
    expect(errors).toEqual(['malformed']);
    const ok = envoy.open();
    ok.send(requestHeadersMsg({ ':path': '/a' }));
    expect((await ok.next()).response).toBe('request_headers');
    ok.end();
    expect((await ok.status).code).toBe(grpc.status.OK);
  });

  it('a message with no request member is malformed', async () => {
    const s = envoy.open();
    s.send({ observability_mode: false, protocol_config: { request_body_mode: 'NONE' } });
    expect((await s.status).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(errors).toEqual(['malformed']);
  });

  it('each stream gets its own context, streams interleave independently', async () => {
    // The response phase echoes what the stream's own context carries: a mixed-up context shows on the wire.
    handler.responseReply = (_h, s) => ({ set: [['x-bandit-arm', s.decision ?? 'no-context']] });
    const streams = Array.from({ length: 20 }, () => envoy.open());
    streams.forEach((s, i) => s.send(requestHeadersMsg({ ':path': '/x', 'x-want': `c${i}` })));
    const first = await Promise.all(streams.map((s) => s.next()));
    first.forEach((r, i) => expect(setHeadersOf(r, 'request_headers')).toEqual([['x-bandit-cluster', `c${i}`]]));
    // Answer the response phases in reverse order, so streams interleave.
    [...streams].reverse().forEach((s) => s.send(responseHeadersMsg({ ':status': '201' })));
    const second = await Promise.all(streams.map((s) => s.next()));
    second.forEach((r, i) => expect(setHeadersOf(r, 'response_headers')).toEqual([['x-bandit-arm', `c${i}`]]));
    expect(handler.readBack).toHaveLength(20);
    expect(errors).toEqual([]);
    streams.forEach((s) => s.end());
    await Promise.all(streams.map((s) => s.status));
    await waitFor(() => handler.ends.length === 20, 'all streams ended');
    expect(new Set(handler.ends.map(([id]) => id)).size).toBe(20);
    expect(server.activeStreams).toBe(0);
  });

  it('reports gRPC health for "" and the ext_proc service, and flips it', async () => {
    expect(await healthCheck(address, '')).toBe(1);
    expect(await healthCheck(address, 'envoy.service.ext_proc.v3.ExternalProcessor')).toBe(1);
    server.setServing(false);
    expect(await healthCheck(address, 'envoy.service.ext_proc.v3.ExternalProcessor')).toBe(2);
    server.setServing(true);
    expect(await healthCheck(address, '')).toBe(1);
  });
});

describe.each(TRANSPORTS)('ext_proc server (%s) drain', (transport) => {
  it('lets an open stream finish, then stops; new connections fail', async () => {
    const handler: ExtProcHandler = {
      onRequestHeaders: () => null,
      onResponseHeaders: () => null,
      onStreamEnd: () => {},
    };
    const server = createExtProcServer({ handler, address: '127.0.0.1:0', transport });
    const { address } = await server.start();
    const envoy = createFakeEnvoy(address);
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/a' }));
    await s.next();
    const drained = server.drain(5_000);
    expect(await healthCheck(address, '').catch(() => -1)).not.toBe(1);
    s.send(responseHeadersMsg({ ':status': '200' }));
    expect((await s.next()).response).toBe('response_headers');
    s.end();
    expect((await s.status).code).toBe(grpc.status.OK);
    await drained;
    envoy.close();
    const late = createFakeEnvoy(address);
    const s2 = late.open();
    s2.send(requestHeadersMsg({ ':path': '/a' }));
    expect((await s2.status).code).toBe(grpc.status.UNAVAILABLE);
    late.close();
  });

  it('force-closes streams still open at the drain timeout', async () => {
    const ends: StreamEndReason[] = [];
    const server = createExtProcServer({
      handler: { onRequestHeaders: () => null, onResponseHeaders: () => null, onStreamEnd: (_s, r) => ends.push(r) },
      address: '127.0.0.1:0',
      transport,
    });
    const { address } = await server.start();
    const envoy = createFakeEnvoy(address);
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/a' }));
    await s.next();
    await server.drain(200);
    const st = await s.status;
    expect(st.code).not.toBe(grpc.status.OK);
    for (let i = 0; i < 100 && ends.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ends).toHaveLength(1);
    envoy.close();
  });
});

describe.each(TRANSPORTS)('ext_proc server (%s) on a unix socket', (transport) => {
  it('serves a stream over unix:/path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-uds-'));
    const address = `unix:${join(dir, 'extproc.sock')}`;
    const server = createExtProcServer({
      handler: { onRequestHeaders: () => ({ set: [['x-bandit-cluster', 'model_c']], remove: [], clearRouteCache: true }), onResponseHeaders: () => null, onStreamEnd: () => {} },
      address,
      transport,
    });
    const bound = await server.start();
    expect(bound.address).toBe(address);
    const envoy = createFakeEnvoy(address);
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/a' }));
    expect(setHeadersOf(await s.next(), 'request_headers')).toEqual([['x-bandit-cluster', 'model_c']]);
    s.end();
    expect((await s.status).code).toBe(grpc.status.OK);
    envoy.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

