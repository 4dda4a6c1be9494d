/**
 * Hand-written protobuf codec for the two ext_proc messages on the hot path.
 *
 * Decoding extracts only what the engine needs from a ProcessingRequest (which
 * oneof is set, the header list of request/response headers, observability
 * mode) and skips everything else by wire type. Header strings are decoded
 * lazily from the message buffer, so a header the handler never reads costs
 * four offsets and no string.
 *
 * Encoding writes the ProcessingResponse shapes envoy-bandit sends into one
 * reused scratch buffer; the returned view is valid until the next encode call
 * (grpc-js copies it synchronously into its frame). Header values go into
 * `raw_value` only (Envoy rejects `value` + `raw_value` and ignores `value`),
 * and `append` is left unset so a set overwrites a client-sent header.
 */
import { BanditError, ErrorCodes } from '../util/errors.js';
import type { HeaderList, RequestHeadersReply, ResponseHeadersReply } from './handler.js';

/** ProcessingRequest oneof `request` member = its field number (0: none set). */
export const Phase = {
  None: 0,
  RequestHeaders: 2,
  ResponseHeaders: 3,
  RequestBody: 4,
  ResponseBody: 5,
  RequestTrailers: 6,
  ResponseTrailers: 7,
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** ProcessingResponse oneof `response` member answering each request phase. */
const RESPONSE_FIELD_FOR_PHASE: Readonly<Record<number, number>> = {
  [Phase.RequestHeaders]: 1,
  [Phase.ResponseHeaders]: 2,
  [Phase.RequestBody]: 3,
  [Phase.ResponseBody]: 4,
  [Phase.RequestTrailers]: 5,
  [Phase.ResponseTrailers]: 6,
};

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_SGROUP = 3;
const WIRE_EGROUP = 4;
const WIRE_I32 = 5;
const MAX_VARINT_BYTES = 10;
const MAX_FIELD_NUMBER = 0x1fffffff;
/** Nested groups are never used by Envoy; cap recursion on hostile input. */
const MAX_GROUP_DEPTH = 32;

// ProcessingRequest field numbers (envoy.service.ext_proc.v3).
const PR_OBSERVABILITY_MODE = 10;
// HttpHeaders / HeaderMap / HeaderValue field numbers.
const HH_HEADERS = 1;
const HH_END_OF_STREAM = 3;
const HM_HEADERS = 1;
const HV_KEY = 1;
const HV_VALUE = 2;
const HV_RAW_VALUE = 3;
// HttpBody field numbers.
const HB_BODY = 1;
const HB_END_OF_STREAM = 2;

export class ExtProcMalformedError extends BanditError {
  constructor(message: string) {
    super(ErrorCodes.EXTPROC_MALFORMED, `malformed ProcessingRequest: ${message}`);
    this.name = 'ExtProcMalformedError';
  }
}

/**
 * A decoded ProcessingRequest. Implements `HeaderList` over the headers of the
 * request/response headers phase (empty for other phases). It keeps a
 * reference to the wire buffer: do not retain it past the handler call.
 */
export class DecodedRequest implements HeaderList {
  phase: Phase = Phase.None;
  observabilityMode = false;
  endOfStream = false;
  /** Byte range of the body in the wire buffer (request/response body phases). */
  bodyStart = 0;
  bodyEnd = 0;
  /** keyStart, keyEnd, valueStart, valueEnd per header. */
  private readonly offsets: number[] = [];
  private count = 0;

  constructor(private readonly buf: Buffer) {}

  get length(): number {
    return this.count;
  }

  name(i: number): string {
    this.check(i);
    return this.buf.toString('latin1', this.offsets[i * 4]!, this.offsets[i * 4 + 1]!);
  }

  value(i: number): string {
    this.check(i);
    return this.buf.toString('latin1', this.offsets[i * 4 + 2]!, this.offsets[i * 4 + 3]!);
  }

  /** The body of a body phase: a view on the wire buffer (copy it to keep it). */
  body(): Buffer {
    return this.buf.subarray(this.bodyStart, this.bodyEnd);
  }

  /** First value of `name` (exact, lower-case match, as Envoy sends names). */
  get(name: string): string | undefined {
    const buf = this.buf;
    const offs = this.offsets;
    const n = name.length;
    outer: for (let i = 0; i < this.count; i++) {
      const start = offs[i * 4]!;
      if (offs[i * 4 + 1]! - start !== n) continue;
      for (let j = 0; j < n; j++) if (buf[start + j] !== name.charCodeAt(j)) continue outer;
      return buf.toString('latin1', offs[i * 4 + 2]!, offs[i * 4 + 3]!);
    }
    return undefined;
  }

  /** @internal used by the decoder. */
  resetHeaders(): void {
    this.count = 0;
    this.offsets.length = 0;
  }

  /** @internal used by the decoder. */
  pushHeader(ks: number, ke: number, vs: number, ve: number): void {
    this.offsets.push(ks, ke, vs, ve);
    this.count++;
  }

  private check(i: number): void {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`header index ${i} out of range 0..${this.count - 1}`);
  }
}

// ---------------------------------------------------------------------------
// Decoder. Module-level cursor: decoding is synchronous and non-reentrant.

let rbuf: Buffer = Buffer.alloc(0);
let rpos = 0;

function readVarint(limit: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (rpos >= limit) throw new ExtProcMalformedError('truncated varint');
    const b = rbuf[rpos++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result;
    mul *= 128;
  }
  throw new ExtProcMalformedError('varint longer than 10 bytes');
}

/** Reads a length prefix and returns the end offset of the delimited bytes. */
function readLenEnd(limit: number): number {
  const len = readVarint(limit);
  if (len > limit - rpos) throw new ExtProcMalformedError('length-delimited field past end of message');
  return rpos + len;
}

function readTag(limit: number): number {
  const tag = readVarint(limit);
  const field = Math.floor(tag / 8);
  if (field < 1 || field > MAX_FIELD_NUMBER) throw new ExtProcMalformedError(`invalid field number ${field}`);
  return tag;
}

function skipField(wireType: number, field: number, limit: number, depth: number): void {
  switch (wireType) {
    case WIRE_VARINT:
      readVarint(limit);
      return;
    case WIRE_I64:
      if (limit - rpos < 8) throw new ExtProcMalformedError('truncated fixed64');
      rpos += 8;
      return;
    case WIRE_LEN:
      rpos = readLenEnd(limit);
      return;
    case WIRE_I32:
      if (limit - rpos < 4) throw new ExtProcMalformedError('truncated fixed32');
      rpos += 4;
      return;
    case WIRE_SGROUP: {
      if (depth >= MAX_GROUP_DEPTH) throw new ExtProcMalformedError('groups nested too deeply');
      for (;;) {
        const tag = readTag(limit);
        const wt = tag & 7;
        if (wt === WIRE_EGROUP) {
          if (Math.floor(tag / 8) !== field) throw new ExtProcMalformedError('mismatched end group');
          return;
        }
        skipField(wt, Math.floor(tag / 8), limit, depth + 1);
      }
    }
    default:
      throw new ExtProcMalformedError(`invalid wire type ${wireType}`);
  }
}

function decodeHeaderValue(out: DecodedRequest, limit: number): void {
  let ks = rpos;
  let ke = rpos;
  let vs = rpos;
  let ve = rpos;
  let rs = rpos;
  let re = rpos;
  while (rpos < limit) {
    const tag = readTag(limit);
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (wt === WIRE_LEN && (field === HV_KEY || field === HV_VALUE || field === HV_RAW_VALUE)) {
      const end = readLenEnd(limit);
      if (field === HV_KEY) {
        ks = rpos;
        ke = end;
      } else if (field === HV_VALUE) {
        vs = rpos;
        ve = end;
      } else {
        rs = rpos;
        re = end;
      }
      rpos = end;
    } else skipField(wt, field, limit, 0);
  }
  // Envoy sends values in raw_value; `value` is the fallback for other senders.
  if (re > rs) out.pushHeader(ks, ke, rs, re);
  else out.pushHeader(ks, ke, vs, ve);
}

function decodeHeaderMap(out: DecodedRequest, limit: number): void {
  while (rpos < limit) {
    const tag = readTag(limit);
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === HM_HEADERS && wt === WIRE_LEN) {
      const end = readLenEnd(limit);
      decodeHeaderValue(out, end);
    } else skipField(wt, field, limit, 0);
  }
}

function decodeHttpHeaders(out: DecodedRequest, limit: number): void {
  while (rpos < limit) {
    const tag = readTag(limit);
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === HH_HEADERS && wt === WIRE_LEN) {
      const end = readLenEnd(limit);
      decodeHeaderMap(out, end);
    } else if (field === HH_END_OF_STREAM && wt === WIRE_VARINT) {
      out.endOfStream = readVarint(limit) !== 0;
    } else skipField(wt, field, limit, 0);
  }
}

function decodeHttpBody(out: DecodedRequest, limit: number): void {
  while (rpos < limit) {
    const tag = readTag(limit);
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === HB_BODY && wt === WIRE_LEN) {
      const end = readLenEnd(limit);
      out.bodyStart = rpos;
      out.bodyEnd = end;
      rpos = end;
    } else if (field === HB_END_OF_STREAM && wt === WIRE_VARINT) {
      out.endOfStream = readVarint(limit) !== 0;
    } else skipField(wt, field, limit, 0);
  }
}

/**
 * Decodes a ProcessingRequest. Throws `ExtProcMalformedError`
 * (code EB_EXTPROC_MALFORMED) on truncated or invalid input.
 */
export function decodeProcessingRequest(buf: Buffer): DecodedRequest {
  const out = new DecodedRequest(buf);
  rbuf = buf;
  rpos = 0;
  const limit = buf.length;
  try {
    while (rpos < limit) {
      const tag = readTag(limit);
      const field = Math.floor(tag / 8);
      const wt = tag & 7;
      if (field >= Phase.RequestHeaders && field <= Phase.ResponseTrailers && wt === WIRE_LEN) {
        // Last oneof member on the wire wins (as protobufjs and protoc decode it).
        const end = readLenEnd(limit);
        out.phase = field as Phase;
        out.endOfStream = false;
        out.resetHeaders();
        out.bodyStart = out.bodyEnd = 0;
        if (field === Phase.RequestHeaders || field === Phase.ResponseHeaders) decodeHttpHeaders(out, end);
        else if (field === Phase.RequestBody || field === Phase.ResponseBody) decodeHttpBody(out, end);
        rpos = end;
      } else if (field === PR_OBSERVABILITY_MODE && wt === WIRE_VARINT) {
        out.observabilityMode = readVarint(limit) !== 0;
      } else skipField(wt, field, limit, 0);
    }
  } finally {
    rbuf = EMPTY;
  }
  return out;
}

const EMPTY = Buffer.alloc(0);

// ---------------------------------------------------------------------------
// Encoder.

// ProcessingResponse / HeadersResponse / CommonResponse / HeaderMutation /
// HeaderValueOption / HeaderValue tags (field << 3 | wire type).
const TAG_HEADERS_RESPONSE_RESPONSE = (1 << 3) | WIRE_LEN;
const TAG_COMMON_HEADER_MUTATION = (2 << 3) | WIRE_LEN;
const TAG_COMMON_CLEAR_ROUTE_CACHE = (5 << 3) | WIRE_VARINT;
const TAG_MUTATION_SET_HEADERS = (1 << 3) | WIRE_LEN;
const TAG_MUTATION_REMOVE_HEADERS = (2 << 3) | WIRE_LEN;
const TAG_OPTION_HEADER = (1 << 3) | WIRE_LEN;
const TAG_HV_KEY = (HV_KEY << 3) | WIRE_LEN;
const TAG_HV_RAW_VALUE = (HV_RAW_VALUE << 3) | WIRE_LEN;
const RESPONSE_REQUEST_HEADERS = 1;
const RESPONSE_RESPONSE_HEADERS = 2;
const INITIAL_SCRATCH_BYTES = 4096;

let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH_BYTES);
let wpos = 0;
/** Per-header sizes computed in the sizing pass: key bytes, HeaderValue, HeaderValueOption. */
const sizes: number[] = [];

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function writeVarint(v: number): void {
  while (v >= 0x80) {
    scratch[wpos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  scratch[wpos++] = v;
}

function ensureScratch(n: number): void {
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
}

/**
 * Encodes a ProcessingResponse whose oneof member `responseField` is a
 * HeadersResponse carrying `set` (raw_value, overwrite), `remove` and
 * `clearRouteCache`. Empty edits encode as the plain "continue" response.
 */
function encodeHeadersResponse(
  responseField: number,
  set: readonly (readonly [string, string])[],
  remove: readonly string[],
  clearRouteCache: boolean,
): Buffer {
  let mutation = 0;
  sizes.length = 0;
  for (let i = 0; i < set.length; i++) {
    const [k, v] = set[i]!;
    const kb = Buffer.byteLength(k, 'utf8');
    // Values are latin1 strings: one byte per char.
    const hv = 1 + varintSize(kb) + kb + (v.length > 0 ? 1 + varintSize(v.length) + v.length : 0);
    const hvo = 1 + varintSize(hv) + hv;
    sizes.push(kb, hv, hvo);
    mutation += 1 + varintSize(hvo) + hvo;
  }
  for (let i = 0; i < remove.length; i++) {
    const rb = Buffer.byteLength(remove[i]!, 'utf8');
    sizes.push(rb);
    mutation += 1 + varintSize(rb) + rb;
  }
  const hasMutation = set.length + remove.length > 0;
  const common =
    (hasMutation ? 1 + varintSize(mutation) + mutation : 0) + (clearRouteCache ? 2 : 0);
  const headersResponse = common > 0 ? 1 + varintSize(common) + common : 0;
  const total = 1 + varintSize(headersResponse) + headersResponse;
  ensureScratch(total);
  wpos = 0;
  scratch[wpos++] = (responseField << 3) | WIRE_LEN;
  writeVarint(headersResponse);
  if (common > 0) {
    scratch[wpos++] = TAG_HEADERS_RESPONSE_RESPONSE;
    writeVarint(common);
    if (hasMutation) {
      scratch[wpos++] = TAG_COMMON_HEADER_MUTATION;
      writeVarint(mutation);
      let s = 0;
      for (let i = 0; i < set.length; i++) {
        const [k, v] = set[i]!;
        const kb = sizes[s++]!;
        const hv = sizes[s++]!;
        const hvo = sizes[s++]!;
        scratch[wpos++] = TAG_MUTATION_SET_HEADERS;
        writeVarint(hvo);
        scratch[wpos++] = TAG_OPTION_HEADER;
        writeVarint(hv);
        scratch[wpos++] = TAG_HV_KEY;
        writeVarint(kb);
        wpos += scratch.write(k, wpos, kb, 'utf8');
        if (v.length > 0) {
          scratch[wpos++] = TAG_HV_RAW_VALUE;
          writeVarint(v.length);
          wpos += scratch.write(v, wpos, v.length, 'latin1');
        }
      }
      for (let i = 0; i < remove.length; i++) {
        const rb = sizes[s++]!;
        scratch[wpos++] = TAG_MUTATION_REMOVE_HEADERS;
        writeVarint(rb);
        wpos += scratch.write(remove[i]!, wpos, rb, 'utf8');
      }
    }
    if (clearRouteCache) {
      scratch[wpos++] = TAG_COMMON_CLEAR_ROUTE_CACHE;
      scratch[wpos++] = 1;
    }
  }
  return scratch.subarray(0, wpos);
}

const NO_REMOVE: readonly string[] = [];

/**
 * ProcessingResponse{request_headers: HeadersResponse{...}}. The returned
 * buffer is a view on shared scratch, valid until the next encode call.
 */
export function encodeRequestHeadersResponse(reply: RequestHeadersReply): Buffer {
  return encodeHeadersResponse(RESPONSE_REQUEST_HEADERS, reply.set, reply.remove, reply.clearRouteCache);
}

/** ProcessingResponse{response_headers: HeadersResponse{...}} (scratch view, see above). */
export function encodeResponseHeadersResponse(reply: ResponseHeadersReply): Buffer {
  return encodeHeadersResponse(RESPONSE_RESPONSE_HEADERS, reply.set, NO_REMOVE, false);
}

const RESPONSE_REQUEST_BODY = 3;
const TAG_BODY_RESPONSE_RESPONSE = (1 << 3) | WIRE_LEN;
const TAG_COMMON_BODY_MUTATION = (3 << 3) | WIRE_LEN;
const TAG_BODY_MUTATION_BODY = (1 << 3) | WIRE_LEN;

/**
 * ProcessingResponse{request_body: BodyResponse{response: CommonResponse{
 * body_mutation: {body}}}}: replaces the buffered request body. A fresh
 * buffer (bodies are large and rare; the scratch stays small).
 */
export function encodeRequestBodyResponse(body: Buffer): Buffer {
  const mutation = 1 + varintSize(body.length) + body.length;
  const common = 1 + varintSize(mutation) + mutation;
  const bodyResponse = 1 + varintSize(common) + common;
  const total = 1 + varintSize(bodyResponse) + bodyResponse;
  const saved = scratch;
  scratch = Buffer.allocUnsafe(total);
  wpos = 0;
  scratch[wpos++] = (RESPONSE_REQUEST_BODY << 3) | WIRE_LEN;
  writeVarint(bodyResponse);
  scratch[wpos++] = TAG_BODY_RESPONSE_RESPONSE;
  writeVarint(common);
  scratch[wpos++] = TAG_COMMON_BODY_MUTATION;
  writeVarint(mutation);
  scratch[wpos++] = TAG_BODY_MUTATION_BODY;
  writeVarint(body.length);
  body.copy(scratch, wpos);
  wpos += body.length;
  const out = scratch;
  scratch = saved;
  return out;
}

/**
 * Precomputed "continue unchanged" responses: the matching oneof member set to
 * an empty message (2 bytes). Indexed by request Phase. Never mutate.
 */
export const CONTINUE_RESPONSE: Readonly<Record<number, Buffer>> = Object.freeze(
  Object.fromEntries(
    Object.entries(RESPONSE_FIELD_FOR_PHASE).map(([phase, field]) => [
      Number(phase),
      Buffer.from([(field << 3) | WIRE_LEN, 0]),
    ]),
  ),
);

/** The continue response matching `phase`, or undefined for Phase.None. */
export function continueResponseFor(phase: Phase): Buffer | undefined {
  return CONTINUE_RESPONSE[phase];
}
