import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';

/**
 * Decision ids: `<payload>.<signature>`, both unpadded base64url. The payload
 * carries the route, arm, time and the issuing replica plus a sequence number;
 * the signature is a truncated HMAC-SHA256 over it, so feedback cannot be
 * forged or attributed to another arm. Replicas that share the key accept
 * each other's ids.
 *
 * Strict: an id is accepted only in the exact form the issuer wrote it
 * (canonical base64url, canonical base-36 numbers, version 1). Base64 lets one
 * payload be written several ways (padding, the unused low bits of the last
 * character), and the old lenient decoder took 100 re-encodings of one id as
 * 100 decisions. A decision's identity is (replica, sequence): `identityOf`.
 * The sequence starts at the issuing process's start time × SEQ_PER_MS, so it
 * stays unique per replica across restarts while the replica averages fewer
 * than SEQ_PER_MS decisions per millisecond of uptime.
 */
export interface DecisionIdFields {
  route: string;
  arm: string;
  /** Epoch ms of the decision. */
  time: number;
  replica: string;
  seq: number;
}

/** Why an id was refused; stable, shown to API clients. */
export type DecisionIdInvalid = 'malformed' | 'non_canonical' | 'bad_signature' | 'unsigned';

const REASON_TEXT: Record<DecisionIdInvalid, string> = {
  unsigned: 'bad signature (an unsigned id; its route took no feedback when it was issued)',
  malformed: 'malformed (expected <payload>.<signature> as issued in x-bandit-decision-id)',
  non_canonical: 'not in the canonical form it was issued in (re-encoded, padded or altered); send it byte for byte',
  bad_signature: 'bad signature (not issued by a replica sharing decision_ids.secret_file)',
};

/** A refused id: EB_DECISION_ID_INVALID with the reason (`reason`) and what it means (`message`). */
export class DecisionIdRejection extends BanditError {
  constructor(readonly reason: DecisionIdInvalid) {
    super(ErrorCodes.DECISION_ID_INVALID, REASON_TEXT[reason]);
  }
}

/** One preallocated rejection per reason: a bad id costs no allocation and no stack capture. */
const REJECT: Readonly<Record<DecisionIdInvalid, Result<never, DecisionIdRejection>>> = {
  malformed: err(new DecisionIdRejection('malformed')),
  non_canonical: err(new DecisionIdRejection('non_canonical')),
  bad_signature: err(new DecisionIdRejection('bad_signature')),
  unsigned: err(new DecisionIdRejection('unsigned')),
};

/** An id parsed without checking its signature. */
export interface ParsedDecisionId {
  fields: DecisionIdFields;
  payload: Buffer;
  sig: string;
}

export const SIG_BYTES = 16;
/** Sequence numbers a process can issue per ms of uptime before it could reuse a predecessor's. */
export const SEQ_PER_MS = 1024;
export const MAX_DECISION_ID_LENGTH = 1024;
const SEP = '\u001f';
const SIG_CHARS = Math.ceil((SIG_BYTES * 8) / 6);
/** The signature of an id issued unsigned (its route takes no feedback). */
export const UNSIGNED_SIG = Buffer.alloc(SIG_BYTES).toString('base64url');
const B64URL = /^[A-Za-z0-9_-]+$/;
const BASE36 = /^(0|[1-9a-z][0-9a-z]*)$/;

export class DecisionIdCodec {
  private seq: number;
  /**
   * Every id this process issues has a greater sequence; an id of this replica
   * with a sequence at or below it was issued by an earlier process (incarnation).
   */
  readonly firstSeq: number;
  private readonly prefixCache = new Map<string, string>();

  constructor(
    private readonly key: Buffer,
    readonly replica: string,
    startMs: number = Date.now(),
  ) {
    this.seq = Math.max(0, Math.trunc(startMs)) * SEQ_PER_MS;
    this.firstSeq = this.seq;
  }

  static generateKey(): Buffer {
    return randomBytes(32);
  }

  /**
   * A new id. `signed: false` (routes that take no feedback: nothing will ever
   * verify it) skips the HMAC — about a quarter of a decision's CPU — and
   * writes the all-zero signature, which `verify` refuses as `unsigned`; the
   * payload and its identity are the same either way.
   */
  issue(route: string, arm: string, time: number, signed = true): string {
    const seq = ++this.seq;
    const cacheKey = route + SEP + arm;
    let prefix = this.prefixCache.get(cacheKey);
    if (prefix === undefined) {
      prefix = `1${SEP}${route}${SEP}${arm}${SEP}${this.replica}${SEP}`;
      this.prefixCache.set(cacheKey, prefix);
    }
    const payload = Buffer.from(`${prefix}${Math.trunc(time).toString(36)}${SEP}${seq.toString(36)}`, 'utf8');
    return `${payload.toString('base64url')}.${signed ? this.sign(payload).toString('base64url') : UNSIGNED_SIG}`;
  }

  /** The fields of a genuine id in its canonical form, or why it is refused. */
  verify(id: unknown): Result<DecisionIdFields, DecisionIdRejection> {
    const parsed = parseDecisionId(id);
    if (!parsed.ok) return parsed;
    if (parsed.value.sig === UNSIGNED_SIG) return REJECT.unsigned;
    const sig = Buffer.from(parsed.value.sig, 'base64url');
    if (!timingSafeEqual(sig, this.sign(parsed.value.payload))) return REJECT.bad_signature;
    return ok(parsed.value.fields);
  }

  private sign(payload: Buffer): Buffer {
    return createHmac('sha256', this.key).update(payload).digest().subarray(0, SIG_BYTES);
  }
}

/** A decision's identity: the issuing replica and its sequence number. */
export function identityOf(f: Pick<DecisionIdFields, 'replica' | 'seq'>): string {
  return `${f.replica}${SEP}${f.seq}`;
}

/**
 * Parses an id's payload strictly, without checking the signature (the
 * aggregator holds no decision-id key and uses this for identity). Never throws.
 */
export function parseDecisionId(id: unknown): Result<ParsedDecisionId, DecisionIdRejection> {
  if (typeof id !== 'string' || id.length > MAX_DECISION_ID_LENGTH) return REJECT.malformed;
  const dot = id.indexOf('.');
  if (dot <= 0 || dot !== id.lastIndexOf('.')) return REJECT.malformed;
  const p = id.slice(0, dot);
  const s = id.slice(dot + 1);
  if (!B64URL.test(p) || !B64URL.test(s)) return REJECT.non_canonical;
  const payload = Buffer.from(p, 'base64url');
  if (payload.toString('base64url') !== p) return REJECT.non_canonical;
  if (s.length !== SIG_CHARS || Buffer.from(s, 'base64url').toString('base64url') !== s) return REJECT.non_canonical;
  const text = payload.toString('utf8');
  if (Buffer.byteLength(text, 'utf8') !== payload.length) return REJECT.malformed;
  const parts = text.split(SEP);
  if (parts.length !== 6 || parts[0] !== '1') return REJECT.malformed;
  const [, route, arm, replica, t, q] = parts as [string, string, string, string, string, string];
  if (route === '' || arm === '' || replica === '') return REJECT.malformed;
  if (!BASE36.test(t) || !BASE36.test(q)) return REJECT.non_canonical;
  const time = parseInt(t, 36);
  const seq = parseInt(q, 36);
  if (!Number.isSafeInteger(time) || !Number.isSafeInteger(seq)) return REJECT.malformed;
  return ok({ fields: { route, arm, replica, time, seq }, payload, sig: s });
}
