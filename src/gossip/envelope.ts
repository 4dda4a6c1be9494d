/**
 * The signed envelope of the Gossip service's calls: a JSON payload, the
 * sender, the replica it is for (forwarded feedback only), a timestamp and an
 * HMAC-SHA256 with the fleet's gossip secret (util/mac.ts). Each
 * message type signs under a domain string of its own, so one can never pass
 * for another. message.ts (Exchange snapshots) and feedback-message.ts
 * (Feedback) seal and open their messages here and keep only their wire field
 * names. Opening never throws: a bad envelope is a GossipRejection.
 */
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import { macMatches, macOver } from '../util/mac.js';

/** Messages older or further in the future than this are rejected (replay limit, clock skew allowance). */
export const DEFAULT_MAX_SKEW_MS = 30_000;

export type VerifyFailure = 'auth' | 'stale' | 'invalid';

/** A refused message: `auth` and `stale` are EB_GOSSIP_AUTH, `invalid` (shape, addressee, payload) EB_STATE_CORRUPT. */
export class GossipRejection extends BanditError {
  constructor(
    readonly reason: VerifyFailure,
    message: string,
  ) {
    super(reason === 'invalid' ? ErrorCodes.STATE_CORRUPT : ErrorCodes.GOSSIP_AUTH, message);
  }
}

/** One type of signed message: its MAC domain, and how errors name it and its payload. */
export interface EnvelopeType {
  readonly domain: string;
  /** `gossip message`, `feedback message`. */
  readonly noun: string;
  /** `snapshot`, `feedback body`. */
  readonly payload: string;
}

/** What the MAC covers, by meaning (each message type has its own wire field names). */
export interface SignedFields {
  kind: string;
  sender: string;
  /** The replica the message is for; null for types that are not addressed (its part is then absent, not empty). */
  target: string | null;
  timeMs: number;
  payload: Buffer;
}

/** The MAC over domain, kind, sender, [target,] time, payload. */
export function envelopeMac(secret: Buffer, type: EnvelopeType, f: SignedFields): Buffer {
  const time = String(f.timeMs);
  return macOver(secret, f.target === null ? [type.domain, f.kind, f.sender, time, f.payload] : [type.domain, f.kind, f.sender, f.target, time, f.payload]);
}

/** A sealed document: its JSON bytes, the time in whole ms and the MAC (empty without a secret). */
export function seal(
  type: EnvelopeType,
  kind: string,
  sender: string,
  target: string | null,
  doc: unknown,
  now: number,
  secret: Buffer | null,
): { timeMs: number; payload: Buffer; mac: Buffer } {
  const payload = Buffer.from(JSON.stringify(doc), 'utf8');
  const timeMs = Math.trunc(now);
  return { timeMs, payload, mac: secret ? envelopeMac(secret, type, { kind, sender, target, timeMs, payload }) : Buffer.alloc(0) };
}

export interface OpenOptions {
  expected: string;
  /** This replica: an addressed envelope must be for it. */
  self?: string;
  secret: Buffer | null;
  now: number;
  maxSkewMs: number;
}

/**
 * Opens an envelope whose field types the caller has checked: kind, MAC (when
 * we hold a secret; without one, loopback only, any MAC is accepted), the
 * addressee, the age, then the payload's JSON.
 */
export function openEnvelope(type: EnvelopeType, f: SignedFields, mac: unknown, o: OpenOptions): Result<unknown, GossipRejection> {
  if (f.kind !== o.expected) return err(new GossipRejection('auth', `expected a ${o.expected} ${type.noun}, got ${JSON.stringify(f.kind)}`));
  if (o.secret && !macMatches(mac, envelopeMac(o.secret, type, f))) {
    return err(new GossipRejection('auth', `bad MAC on ${type.noun} from ${JSON.stringify(f.sender.slice(0, 64))}`));
  }
  if (f.target !== null && f.target !== o.self) {
    return err(new GossipRejection('invalid', `${type.noun} is for replica ${JSON.stringify(f.target.slice(0, 64))}, this is ${JSON.stringify(o.self)}`));
  }
  if (Math.abs(o.now - f.timeMs) > o.maxSkewMs) {
    return err(new GossipRejection('stale', `${type.noun} time is ${Math.round((o.now - f.timeMs) / 1000)} s off our clock (limit ${o.maxSkewMs / 1000} s)`));
  }
  try {
    return ok(JSON.parse(f.payload.toString('utf8')) as unknown);
  } catch (e) {
    return err(new GossipRejection('invalid', `${type.payload} is not JSON: ${(e as Error).message}`));
  }
}
