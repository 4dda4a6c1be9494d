import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONTINUE_RESPONSE,
  decodeProcessingRequest,
  encodeRequestHeadersResponse,
  encodeResponseHeadersResponse,
  ExtProcMalformedError,
  Phase,
} from '../../src/extproc/codec.js';
import { ErrorCodes } from '../../src/util/errors.js';
import { referenceCodec } from '../support/protos.js';

const ref = referenceCodec();

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&\'*+^`|~';
const headerName = fc.oneof(
  fc.constantFrom(':path', ':method', ':authority', ':status', 'x-bandit-cluster', 'x-session-id'),
  fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 24 }),
);
const latin1String = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const headerValue = fc.oneof(latin1String, fc.constant(''), fc.string({ unit: 'grapheme', maxLength: 10 }));
const headerPairs = fc.array(fc.tuple(headerName, headerValue), { maxLength: 20 });
/** Lists with repeated names on purpose. */
const headersWithRepeats = headerPairs.chain((pairs) =>
  fc.array(fc.nat({ max: Math.max(0, pairs.length - 1) }), { maxLength: 4 }).map((dups) =>
    pairs.length === 0 ? pairs : [...pairs, ...dups.map((i) => pairs[i]!)],
  ),
);

const latin1 = (s: string) => Buffer.from(s, 'latin1');

interface HvOut {
  header: { key: string; raw_value?: Buffer; value?: string };
  append?: unknown;
  append_action?: unknown;
}

function decodedSetHeaders(common: Record<string, unknown>): HvOut[] {
  const mutation = common.header_mutation as { set_headers?: HvOut[] } | undefined;
  return mutation?.set_headers ?? [];
}

describe('encodeRequestHeadersResponse (ours) -> protobufjs', () => {
  it('sets raw_value only, leaves append unset, carries removes and clear_route_cache', () => {
    const bytes = Buffer.from(
      encodeRequestHeadersResponse({
        set: [
          ['x-bandit-cluster', 'model_b'],
          ['x-bandit-decision-id', 'abc.def'],
        ],
        remove: ['x-unwanted'],
        clearRouteCache: true,
      }),
    );
    const msg = ref.decodeResponse(bytes);
    expect(msg.response).toBe('request_headers');
    const common = (msg.request_headers as { response: Record<string, unknown> }).response;
    expect(common.clear_route_cache).toBe(true);
    const set = decodedSetHeaders(common);
    expect(set.map((h) => [h.header.key, h.header.raw_value?.toString('latin1')])).toEqual([
      ['x-bandit-cluster', 'model_b'],
      ['x-bandit-decision-id', 'abc.def'],
    ]);
    for (const h of set) {
      expect(h.header.value).toBeUndefined();
      expect(h.append).toBeUndefined();
      expect(h.append_action).toBeUndefined();
    }
    expect((common.header_mutation as { remove_headers: string[] }).remove_headers).toEqual(['x-unwanted']);
  });

  it('property: arbitrary set/remove lists round-trip through protobufjs', () => {
    fc.assert(
      fc.property(headersWithRepeats, fc.array(headerName, { maxLength: 5 }), fc.boolean(), (set, remove, clear) => {
        const bytes = Buffer.from(encodeRequestHeadersResponse({ set, remove, clearRouteCache: clear }));
        const msg = ref.decodeResponse(bytes);
        expect(msg.response).toBe('request_headers');
        const hr = msg.request_headers as { response?: Record<string, unknown> };
        const common = hr.response ?? {};
        const got = decodedSetHeaders(common).map((h) => [h.header.key, (h.header.raw_value ?? Buffer.alloc(0)).toString('hex')]);
        expect(got).toEqual(set.map(([k, v]) => [k, latin1(v).toString('hex')]));
        for (const h of decodedSetHeaders(common)) expect(h.header.value).toBeUndefined();
        const removed = (common.header_mutation as { remove_headers?: string[] } | undefined)?.remove_headers ?? [];
        expect(removed).toEqual(remove);
        expect(common.clear_route_cache === true).toBe(clear);
        // Byte-exact agreement with protobufjs when both encode the same object.
        const theirs = ref.encodeResponse(msg);
        expect(ref.decodeResponse(theirs)).toEqual(msg);
      }),
      { numRuns: 300 },
    );
  });

  it('property: response headers replies decode as response_headers', () => {
    fc.assert(
      fc.property(headerPairs, (set) => {
        const msg = ref.decodeResponse(Buffer.from(encodeResponseHeadersResponse({ set })));
        expect(msg.response).toBe('response_headers');
        const common = (msg.response_headers as { response?: Record<string, unknown> }).response ?? {};
        expect(decodedSetHeaders(common).map((h) => h.header.key)).toEqual(set.map(([k]) => k));
        expect(common.clear_route_cache).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('an empty request-headers reply is the 2-byte continue', () => {
    const bytes = Buffer.from(encodeRequestHeadersResponse({ set: [], remove: [], clearRouteCache: false }));
    expect(bytes).toEqual(CONTINUE_RESPONSE[Phase.RequestHeaders]);
  });

  it('long values (multi-byte length varints) round-trip', () => {
    const long = 'v'.repeat(70_000);
    const msg = ref.decodeResponse(Buffer.from(encodeRequestHeadersResponse({ set: [['x-long', long]], remove: [], clearRouteCache: true })));
    const common = (msg.request_headers as { response: Record<string, unknown> }).response;
    expect(decodedSetHeaders(common)[0]!.header.raw_value!.length).toBe(70_000);
  });
});

describe('CONTINUE_RESPONSE', () => {
  const expected: [number, string][] = [
    [Phase.RequestHeaders, 'request_headers'],
    [Phase.ResponseHeaders, 'response_headers'],
    [Phase.RequestBody, 'request_body'],
    [Phase.ResponseBody, 'response_body'],
    [Phase.RequestTrailers, 'request_trailers'],
    [Phase.ResponseTrailers, 'response_trailers'],
  ];
  it.each(expected)('phase %i answers with an empty %s', (phase, oneof) => {
    const msg = ref.decodeResponse(CONTINUE_RESPONSE[phase]!);
    expect(msg.response).toBe(oneof);
    expect(msg[oneof]).toEqual({});
    expect(ref.encodeResponse({ [oneof]: {} })).toEqual(CONTINUE_RESPONSE[phase]);
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function headersOf(list: ReturnType<typeof decodeProcessingRequest>): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < list.length; i++) out.push([list.name(i), list.value(i)]);
  return out;
}

describe('decodeProcessingRequest (protobufjs -> ours)', () => {
  const hvArb = fc.record(
    {
      key: headerName,
      raw: fc.uint8Array({ maxLength: 30 }),
      value: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
    },
    { requiredKeys: ['key', 'raw'] },
  );
  const oneofArb = fc.constantFrom(
    'request_headers',
    'response_headers',
    'request_body',
    'response_body',
    'request_trailers',
    'response_trailers',
  );

  it('property: header lists, oneof, observability_mode and extra fields', () => {
    fc.assert(
      fc.property(
        oneofArb,
        fc.array(hvArb, { maxLength: 20 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (oneof, hvs, obs, eos, extras) => {
          const headers = hvs.map((h) => ({ key: h.key, raw_value: Buffer.from(h.raw), ...(h.value !== undefined ? { value: h.value } : {}) }));
          const headerMap = { headers };
          const inner =
            oneof.endsWith('headers')
              ? { headers: headerMap, end_of_stream: eos }
              : oneof.endsWith('body')
                ? { body: Buffer.from('some body'), end_of_stream: eos }
                : { trailers: headerMap };
          const obj: Record<string, unknown> = { [oneof]: inner, observability_mode: obs };
          if (extras) {
            obj.attributes = { 'envoy.filters.http.ext_proc': { fields: { 'request.id': { stringValue: 'r1' }, n: { numberValue: 2.5 } } } };
            obj.metadata_context = { filter_metadata: { 'envoy.lb': { fields: { a: { boolValue: true } } } } };
            obj.protocol_config = { request_body_mode: 'STREAMED', send_body_without_waiting_for_header_response: true };
          }
          const d = decodeProcessingRequest(ref.encodeRequest(obj));
          expect(d.phase).toBe({ request_headers: 2, response_headers: 3, request_body: 4, response_body: 5, request_trailers: 6, response_trailers: 7 }[oneof]);
          expect(d.observabilityMode).toBe(obs);
          if (oneof.endsWith('headers')) {
            expect(d.endOfStream).toBe(eos);
            const want = hvs.map((h): [string, string] => [
              h.key,
              h.raw.length > 0 ? Buffer.from(h.raw).toString('latin1') : Buffer.from(h.value ?? '', 'utf8').toString('latin1'),
            ]);
            expect(headersOf(d)).toEqual(want);
            for (const [k] of want) expect(d.get(k)).toBe(want.find(([kk]) => kk === k)![1]);
          } else {
            expect(d.length).toBe(0);
          }
          expect(d.get('x-definitely-absent-header')).toBeUndefined();
        },
      ),
      { numRuns: 400 },
    );
  });

  it('decodes a typical Envoy request_headers message', () => {
    const buf = ref.encodeRequest({
      request_headers: {
        headers: {
          headers: [
            { key: ':method', raw_value: Buffer.from('POST') },
            { key: ':path', raw_value: Buffer.from('/v1/chat') },
            { key: 'x-bandit-cluster', raw_value: Buffer.from('evil') },
            { key: 'x-bandit-cluster', raw_value: Buffer.from('second') },
            { key: 'x-latin', raw_value: Buffer.from([0xe9, 0xff, 0x00]) },
          ],
        },
        end_of_stream: true,
      },
      protocol_config: { request_body_mode: 'NONE' },
    });
    const d = decodeProcessingRequest(buf);
    expect(d.phase).toBe(Phase.RequestHeaders);
    expect(d.length).toBe(5);
    expect(d.get(':path')).toBe('/v1/chat');
    expect(d.get('x-bandit-cluster')).toBe('evil');
    expect(d.value(3)).toBe('second');
    expect(d.get('x-latin')).toBe('\u00e9\u00ff\u0000');
    expect(() => d.name(5)).toThrow(RangeError);
  });

  it('skips unknown fields of every wire type at every level', () => {
    // Unknown field 15 in each encoding: varint, fixed64, len, start/end group, fixed32.
    const unknowns = Buffer.from([
      (15 << 3) | 0, 0xff, 0xff, 0x01,
      (15 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8,
      (15 << 3) | 2, 3, 9, 9, 9,
      (15 << 3) | 3, (1 << 3) | 0, 5, (2 << 3) | 2, 1, 7, (15 << 3) | 4,
      (15 << 3) | 5, 1, 2, 3, 4,
    ]);
    const len = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag, ...varint(body.length)]), body]);
    const hv = Buffer.concat([Buffer.from([0x0a, 2]), Buffer.from('ab'), unknowns, Buffer.from([0x1a, 1, 0x43])]);
    const map = Buffer.concat([unknowns, len(0x0a, hv), unknowns]);
    const hh = Buffer.concat([len(0x0a, map), unknowns, Buffer.from([0x18, 1])]);
    const pr = Buffer.concat([unknowns, len(0x12, hh), unknowns, Buffer.from([0x50, 1])]);
    expect(hh.length).toBeGreaterThan(127); // exercises a two-byte length prefix
    const d = decodeProcessingRequest(pr);
    expect(d.phase).toBe(Phase.RequestHeaders);
    expect(headersOf(d)).toEqual([['ab', 'C']]);
    expect(d.endOfStream).toBe(true);
    expect(d.observabilityMode).toBe(true);
    // protobufjs agrees on the known content.
    const theirs = ref.decodeRequest(pr) as { request_headers: { headers: { headers: { key: string }[] } } };
    expect(theirs.request_headers.headers.headers[0]!.key).toBe('ab');
  });

  it('throws EB_EXTPROC_MALFORMED on every strict truncation inside a field', () => {
    const buf = ref.encodeRequest({
      request_headers: { headers: { headers: [{ key: 'x-a', raw_value: Buffer.from('value-1') }] } },
    });
    // Every strict prefix cuts through the single top-level field, so all must throw.
    for (let n = 1; n < buf.length; n++) {
      let caught: unknown;
      try {
        decodeProcessingRequest(buf.subarray(0, n));
      } catch (e) {
        caught = e;
      }
      expect(caught, `prefix ${n}`).toBeInstanceOf(ExtProcMalformedError);
      expect((caught as ExtProcMalformedError).code).toBe(ErrorCodes.EXTPROC_MALFORMED);
    }
    expect(decodeProcessingRequest(Buffer.alloc(0)).phase).toBe(Phase.None);
  });

  it.each([
    ['field number 0', [0x00, 0x01]],
    ['wire type 6', [(3 << 3) | 6]],
    ['wire type 7', [(3 << 3) | 7]],
    ['unterminated varint', [0x50, 0x80, 0x80]],
    ['11-byte varint', [0x50, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ['length past end', [0x12, 0x05, 0x00]],
    ['stray end group', [(15 << 3) | 4]],
    ['unclosed group', [(15 << 3) | 3, 0x08, 0x01]],
    ['mismatched end group', [(15 << 3) | 3, (14 << 3) | 4]],
  ])('rejects %s', (_name, bytes) => {
    expect(() => decodeProcessingRequest(Buffer.from(bytes))).toThrow(ExtProcMalformedError);
  });

  it('property: random bytes either decode or throw only ExtProcMalformedError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          const d = decodeProcessingRequest(Buffer.from(bytes));
          for (let i = 0; i < d.length; i++) {
            expect(typeof d.name(i)).toBe('string');
            expect(typeof d.value(i)).toBe('string');
          }
        } catch (e) {
          expect(e).toBeInstanceOf(ExtProcMalformedError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
