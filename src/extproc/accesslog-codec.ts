/**
 * Hand-written decoder for Envoy's gRPC access-log stream
 * (envoy.service.accesslog.v3.StreamAccessLogsMessage → HTTP entries of
 * envoy.data.accesslog.v3). It extracts only what an outcome needs — response
 * code, the configured request/response header and trailer maps, durations,
 * bytes and response flags — and skips everything else by wire type, so a
 * field Envoy adds later costs nothing. Input is untrusted: every length is
 * bounds-checked and a bad message throws `ExtProcMalformedError` (a value the
 * transport turns into INVALID_ARGUMENT, never a crash).
 */
import { ExtProcMalformedError } from './codec.js';
import type { AccessLogEntry } from './handler.js';

export type { AccessLogEntry } from './handler.js';

/** ResponseFlags field number → Envoy's short flag (envoy.data.accesslog.v3.ResponseFlags). */
export const RESPONSE_FLAG_BY_FIELD: Readonly<Record<number, string>> = {
  1: 'LH', 2: 'UH', 3: 'UT', 4: 'LR', 5: 'UR', 6: 'UF', 7: 'UC', 8: 'UO', 9: 'NR', 10: 'DI', 11: 'FI', 12: 'RL',
  13: 'UAEX', 14: 'RLSE', 15: 'DC', 16: 'URX', 17: 'SI', 18: 'IH', 19: 'DPE', 20: 'UMSDR', 21: 'RFCF', 22: 'NFCF',
  23: 'DT', 24: 'UPE', 25: 'NC', 26: 'OM', 27: 'DF', 28: 'DR',
};

/** gRPC path Envoy's `envoy.access_loggers.http_grpc` calls (client streaming). */
export const ACCESS_LOG_METHOD_PATH = '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs';
/** StreamAccessLogsResponse is empty. */
export const ACCESS_LOG_RESPONSE = Buffer.alloc(0);

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
/** Header maps are bounded by Envoy's config; more entries than this is hostile input. */
const MAX_MAP_ENTRIES = 64;

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(limit: number): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= limit) throw new ExtProcMalformedError('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new ExtProcMalformedError('varint longer than 10 bytes');
  }

  /** Reads a length prefix; returns the end offset of the delimited bytes. */
  lenEnd(limit: number): number {
    const len = this.varint(limit);
    if (len > limit - this.pos) throw new ExtProcMalformedError('length-delimited field past end of message');
    return this.pos + len;
  }

  tag(limit: number): [field: number, wire: number] {
    const t = this.varint(limit);
    const field = Math.floor(t / 8);
    if (field < 1) throw new ExtProcMalformedError(`invalid field number ${field}`);
    return [field, t & 7];
  }

  skip(wire: number, limit: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint(limit);
        return;
      case WIRE_I64:
        if (limit - this.pos < 8) throw new ExtProcMalformedError('truncated fixed64');
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.pos = this.lenEnd(limit);
        return;
      case WIRE_I32:
        if (limit - this.pos < 4) throw new ExtProcMalformedError('truncated fixed32');
        this.pos += 4;
        return;
      default:
        // Groups never appear in these messages.
        throw new ExtProcMalformedError(`unexpected wire type ${wire}`);
    }
  }

  string(limit: number): string {
    const end = this.lenEnd(limit);
    const s = this.buf.toString('latin1', this.pos, end);
    this.pos = end;
    return s;
  }

  /** Runs `field` for each field of the message ending at `end`; unknown ones are skipped by it returning false. */
  message(end: number, field: (f: number, wire: number, end: number) => boolean): void {
    while (this.pos < end) {
      const [f, w] = this.tag(end);
      if (!field(f, w, end)) this.skip(w, end);
    }
  }

  /** A nested message: bounded sub-range. */
  nested(wire: number, limit: number, field: (f: number, wire: number, end: number) => boolean): void {
    if (wire !== WIRE_LEN) throw new ExtProcMalformedError('expected a length-delimited message');
    const end = this.lenEnd(limit);
    this.message(end, field);
    this.pos = end;
  }

  /** google.protobuf.Duration → ms. */
  durationMs(wire: number, limit: number): number {
    let seconds = 0;
    let nanos = 0;
    this.nested(wire, limit, (f, w, end) => {
      if (w !== WIRE_VARINT) return false;
      if (f === 1) seconds = this.varint(end);
      else if (f === 2) nanos = this.varint(end);
      else return false;
      return true;
    });
    return seconds * 1000 + nanos / 1e6;
  }

  /** map<string,string> entry into `out` (key lower-cased, as header names are). */
  mapEntry(wire: number, limit: number, out: Map<string, string>): void {
    let key = '';
    let value = '';
    this.nested(wire, limit, (f, w, end) => {
      if (w !== WIRE_LEN || (f !== 1 && f !== 2)) return false;
      if (f === 1) key = this.string(end);
      else value = this.string(end);
      return true;
    });
    if (out.size >= MAX_MAP_ENTRIES) throw new ExtProcMalformedError(`more than ${MAX_MAP_ENTRIES} logged headers`);
    out.set(key.toLowerCase(), value);
  }
}

function newEntry(): AccessLogEntry {
  return {
    status: 0,
    requestHeaders: new Map(),
    responseHeaders: new Map(),
    responseTrailers: new Map(),
    ttfbMs: undefined,
    lastUpstreamRxMs: undefined,
    lastDownstreamTxMs: undefined,
    durationMs: undefined,
    bodyBytes: 0,
    flags: [],
    details: '',
    intermediate: false,
  };
}

function decodeFlags(r: Reader, wire: number, limit: number, out: string[]): void {
  r.nested(wire, limit, (f, w, end) => {
    if (w !== WIRE_VARINT) return false; // unauthorized_details (a message) is skipped
    if (r.varint(end) !== 0) {
      const name = RESPONSE_FLAG_BY_FIELD[f];
      if (name !== undefined) out.push(name);
    }
    return true;
  });
}

function decodeCommon(r: Reader, wire: number, limit: number, e: AccessLogEntry): void {
  r.nested(wire, limit, (f, w, end) => {
    switch (f) {
      case 9:
        e.ttfbMs = r.durationMs(w, end);
        return true;
      case 10:
        e.lastUpstreamRxMs = r.durationMs(w, end);
        return true;
      case 12:
        e.lastDownstreamTxMs = r.durationMs(w, end);
        return true;
      case 16:
        decodeFlags(r, w, end, e.flags);
        return true;
      case 23:
        e.durationMs = r.durationMs(w, end);
        return true;
      case 26:
        if (w !== WIRE_VARINT) return false;
        e.intermediate = r.varint(end) !== 0;
        return true;
      default:
        return false;
    }
  });
}

function decodeRequest(r: Reader, wire: number, limit: number, e: AccessLogEntry): void {
  r.nested(wire, limit, (f, w, end) => {
    if (f !== 13) return false;
    r.mapEntry(w, end, e.requestHeaders);
    return true;
  });
}

function decodeResponse(r: Reader, wire: number, limit: number, e: AccessLogEntry): void {
  r.nested(wire, limit, (f, w, end) => {
    switch (f) {
      case 1: // UInt32Value
        r.nested(w, end, (g, gw, gend) => {
          if (g !== 1 || gw !== WIRE_VARINT) return false;
          e.status = r.varint(gend);
          return true;
        });
        return true;
      case 3:
        if (w !== WIRE_VARINT) return false;
        e.bodyBytes = r.varint(end);
        return true;
      case 4:
        r.mapEntry(w, end, e.responseHeaders);
        return true;
      case 5:
        r.mapEntry(w, end, e.responseTrailers);
        return true;
      case 6:
        if (w !== WIRE_LEN) return false;
        e.details = r.string(end);
        return true;
      default:
        return false;
    }
  });
}

/** Decodes one StreamAccessLogsMessage into its HTTP entries (TCP entries and the identifier are skipped). */
export function decodeStreamAccessLogsMessage(buf: Buffer): AccessLogEntry[] {
  const r = new Reader(buf);
  const out: AccessLogEntry[] = [];
  r.message(buf.length, (f, w, end) => {
    if (f !== 2) return false;
    r.nested(w, end, (g, gw, gend) => {
      if (g !== 1) return false;
      const e = newEntry();
      r.nested(gw, gend, (h, hw, hend) => {
        if (h === 1) decodeCommon(r, hw, hend, e);
        else if (h === 3) decodeRequest(r, hw, hend, e);
        else if (h === 4) decodeResponse(r, hw, hend, e);
        else return false;
        return true;
      });
      out.push(e);
      return true;
    });
    return true;
  });
  return out;
}
