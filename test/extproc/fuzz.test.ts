/**
 * Fuzz the server over real gRPC streams: random bytes and structurally valid
 * but odd ProcessingRequests. The process must stay up, every stream must end
 * with its answers and OK, or with a clean INVALID_ARGUMENT, and a normal
 * stream must still work afterwards.
 */
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProcessingRequest, Phase } from '../../src/extproc/codec.js';
import type { ExtProcHandler, HeaderList } from '../../src/extproc/handler.js';
import { createExtProcServer, type ExtProcServer } from '../../src/extproc/server.js';
import { createFakeEnvoy, requestHeadersMsg, responseHeadersMsg, setHeadersOf } from '../support/extproc-client.js';
import { referenceCodec } from '../support/protos.js';

const ref = referenceCodec();
const STREAM_TIMEOUT_MS = 5_000;

/** Touches every header so lazy decoding is exercised on odd input too. */
const touchAll = (h: HeaderList): number => {
  let n = 0;
  for (let i = 0; i < h.length; i++) n += h.name(i).length + h.value(i).length;
  return n + (h.get(':path')?.length ?? 0);
};

const ONEOFS = ['request_headers', 'response_headers', 'request_body', 'response_body', 'request_trailers', 'response_trailers'] as const;
const PHASE_OF: Record<(typeof ONEOFS)[number], number> = {
  request_headers: Phase.RequestHeaders,
  response_headers: Phase.ResponseHeaders,
  request_body: Phase.RequestBody,
  response_body: Phase.ResponseBody,
  request_trailers: Phase.RequestTrailers,
  response_trailers: Phase.ResponseTrailers,
};

const anyString = fc.string({ unit: 'binary', maxLength: 20 });
const oddHeader = fc.record({
  key: fc.oneof(anyString, fc.constant(''), fc.constant(':path')),
  raw_value: fc.oneof(fc.uint8Array({ maxLength: 50 }).map((u) => Buffer.from(u)), fc.constant(Buffer.alloc(0))),
  value: fc.oneof(anyString, fc.constant('')),
});

/** A structurally valid ProcessingRequest with odd content (maybe no oneof, maybe observability mode). */
const oddRequest = fc.record(
  {
    oneof: fc.option(fc.constantFrom(...ONEOFS), { nil: undefined, freq: 6 }),
    headers: fc.array(oddHeader, { maxLength: 30 }),
    observability: fc.boolean(),
    attributes: fc.boolean(),
    trailingGarbageField: fc.boolean(),
  },
  { requiredKeys: ['headers', 'observability', 'attributes', 'trailingGarbageField'] },
);

type Odd = typeof oddRequest extends fc.Arbitrary<infer T> ? T : never;

function buildOdd(o: Odd): { bytes: Buffer; phase: number; observability: boolean } {
  const obj: Record<string, unknown> = { observability_mode: o.observability };
  if (o.oneof) {
    obj[o.oneof] = o.oneof.endsWith('headers')
      ? { headers: { headers: o.headers }, end_of_stream: true }
      : o.oneof.endsWith('body')
        ? { body: Buffer.from('body'), end_of_stream: false }
        : { trailers: { headers: o.headers } };
  }
  if (o.attributes) obj.attributes = { 'envoy.filters.http.ext_proc': { fields: { x: { listValue: { values: [{ nullValue: 'NULL_VALUE' }] } } } } };
  let bytes = ref.encodeRequest(obj);
  // Unknown field 99 (len) appended: a valid, skippable extension.
  if (o.trailingGarbageField) bytes = Buffer.concat([bytes, Buffer.from([0x9a, 0x06, 0x02, 0xde, 0xad])]);
  return { bytes, phase: o.oneof ? PHASE_OF[o.oneof] : Phase.None, observability: o.observability };
}

/** What the server should do with a sequence: answers expected, or a clean INVALID_ARGUMENT. */
function expectation(msgs: Buffer[]): { answers: number; invalid: boolean } {
  let answers = 0;
  for (const m of msgs) {
    let phase: number;
    let obs: boolean;
    try {
      const d = decodeProcessingRequest(m);
      phase = d.phase;
      obs = d.observabilityMode;
    } catch {
      return { answers, invalid: true };
    }
    if (obs) continue;
    if (phase === Phase.None) return { answers, invalid: true };
    answers++;
  }
  return { answers, invalid: false };
}

describe.each(['grpc-js', 'http2'] as const)('ext_proc server (%s) under fuzzing', (transport) => {
  let server: ExtProcServer;
  let address: string;
  let envoy: ReturnType<typeof createFakeEnvoy>;
  let streamEnds = 0;
  let opened = 0;
  const handler: ExtProcHandler = {
    onRequestHeaders: (h, s) => {
      s.decision = touchAll(h);
      return h.length % 3 === 0 ? null : { set: [['x-bandit-cluster', 'model_b']], remove: ['x-r'], clearRouteCache: true };
    },
    onResponseHeaders: (h) => {
      if (h.length === 7) throw new Error('handler bug on purpose');
      touchAll(h);
      return { set: [['x-bandit-arm', 'b']] };
    },
    onStreamEnd: () => {
      streamEnds++;
    },
  };

  beforeAll(async () => {
    server = createExtProcServer({ handler, address: '127.0.0.1:0', transport });
    address = (await server.start()).address;
    envoy = createFakeEnvoy(address);
  });

  afterAll(async () => {
    envoy.close();
    await server.close();
  });

  async function runStream(msgs: Buffer[]): Promise<void> {
    opened++;
    const want = expectation(msgs);
    const s = envoy.open();
    for (const m of msgs) s.send(m);
    s.end();
    const st = await Promise.race([
      s.status,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('stream did not end')), STREAM_TIMEOUT_MS)),
    ]);
    if (want.invalid) {
      expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(s.pending).toBeLessThanOrEqual(want.answers);
    } else {
      expect(st.code).toBe(grpc.status.OK);
      expect(s.pending).toBe(want.answers);
    }
  }

  it('random bytes: 1000 streams of 1-3 arbitrary messages', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 120 }).map((u) => Buffer.from(u)), { minLength: 1, maxLength: 3 }), runStream),
      { numRuns: 1000 },
    );
  });

  it('structurally valid but odd ProcessingRequests: 1000 streams', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(oddRequest, { minLength: 1, maxLength: 4 }), async (odds) => {
        await runStream(odds.map((o) => buildOdd(o).bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('garbage at the gRPC framing level does not take the server down', async () => {
    const session = connect(`http://${address}`);
    const frames = [
      Buffer.from([0, 0, 0, 0, 10, 1, 2]), // truncated length-prefixed message, then end
      Buffer.from([1, 0, 0, 0, 1, 0]), // "compressed" flag without grpc-encoding
      Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]), // 2 GiB declared length
      Buffer.from([7]),
    ];
    const statuses: string[] = [];
    for (const frame of frames) {
      opened++;
      statuses.push(
        await new Promise<string>((resolve) => {
          const req = session.request({
            ':method': 'POST',
            ':path': '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
            'content-type': 'application/grpc',
            te: 'trailers',
          });
          let status = 'none';
          req.on('response', (h) => {
            if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
          });
          req.on('trailers', (t) => {
            status = String(t['grpc-status']);
          });
          req.on('data', () => {});
          req.on('close', () => resolve(status));
          req.on('error', () => resolve(status));
          req.end(frame);
        }),
      );
    }
    session.close();
    // Each got a gRPC status rather than a hang or a crash. grpc-js 1.14 drops a
    // partial message at end of stream (OK with no answer), rejects a compressed
    // flag without an encoding and refuses an oversized declared length.
    for (const st of statuses) expect(['0', '3', '8', '12', '13']).toContain(st);
    expect(statuses[2]).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
  });

  it('a normal stream still works afterwards and every stream ended once', async () => {
    const s = envoy.open();
    s.send(requestHeadersMsg({ ':path': '/v1/chat', a: '1' }));
    expect(setHeadersOf(await s.next(), 'request_headers')).toEqual([['x-bandit-cluster', 'model_b']]);
    s.send(responseHeadersMsg({ ':status': '200' }));
    expect(setHeadersOf(await s.next(), 'response_headers')).toEqual([['x-bandit-arm', 'b']]);
    s.end();
    expect((await s.status).code).toBe(grpc.status.OK);
    opened++;
    for (let i = 0; i < 200 && server.activeStreams > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.activeStreams).toBe(0);
    // Including the streams grpc-js itself ended on framing errors.
    expect(streamEnds).toBe(opened);
  });
});
