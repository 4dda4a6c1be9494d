/**
 * Gossip messages: a snapshot as JSON bytes, the sender, a timestamp and an
 * HMAC-SHA256 over all of it with the shared secret. Verification never
 * throws: a bad message is an error value with a stable code.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseSnapshot, type Snapshot } from '../state/snapshot.js';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import type { WireGossipMessage } from './proto.js';

export type MessageKind = 'push' | 'pull';
const DOMAIN = 'envoy-bandit-gossip/1';
/** Messages older or further in the future than this are rejected (replay limit, clock skew allowance). */
export const DEFAULT_MAX_SKEW_MS = 30_000;

export type VerifyFailure = 'auth' | 'stale' | 'invalid';

export class GossipRejection extends BanditError {
  constructor(
    readonly reason: VerifyFailure,
    message: string,
  ) {
    super(reason === 'invalid' ? ErrorCodes.STATE_CORRUPT : ErrorCodes.GOSSIP_AUTH, message);
  }
}

/** HMAC-SHA256 over length-prefixed parts (no part can be shifted into its neighbour). */
export function macOver(secret: Buffer, parts: ReadonlyArray<Buffer | string>): Buffer {
  const h = createHmac('sha256', secret);
  for (const data of parts) {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len);
    h.update(b);
  }
  return h.digest();
}

export function computeMac(secret: Buffer, kind: string, sender: string, timeMs: number, snapshot: Buffer): Buffer {
  return macOver(secret, [DOMAIN, kind, sender, String(timeMs), snapshot]);
}

/** A MAC check in constant time; an absent or short MAC fails. */
export function macMatches(got: unknown, want: Buffer): boolean {
  const mac = Buffer.isBuffer(got) ? got : Buffer.alloc(0);
  return mac.length === want.length && timingSafeEqual(mac, want);
}

export function encodeMessage(kind: MessageKind, sender: string, snapshot: Snapshot, now: number, secret: Buffer | null): WireGossipMessage {
  const bytes = Buffer.from(JSON.stringify(snapshot), 'utf8');
  const timeMs = Math.trunc(now);
  return { kind, sender, time_ms: timeMs, snapshot: bytes, mac: secret ? computeMac(secret, kind, sender, timeMs, bytes) : Buffer.alloc(0) };
}

export interface VerifiedMessage {
  sender: string;
  timeMs: number;
  snapshot: Snapshot;
}

/**
 * Checks kind, MAC (when we hold a secret), age, then parses the snapshot.
 * Without a secret (loopback-only mesh) any MAC is accepted.
 */
export function verifyMessage(
  raw: unknown,
  expected: MessageKind,
  secret: Buffer | null,
  now: number,
  maxSkewMs = DEFAULT_MAX_SKEW_MS,
): Result<VerifiedMessage, GossipRejection> {
  const m = raw as Partial<WireGossipMessage> | null;
  if (!m || typeof m.sender !== 'string' || m.sender === '' || typeof m.time_ms !== 'number' || !Buffer.isBuffer(m.snapshot)) {
    return err(new GossipRejection('invalid', 'malformed gossip message'));
  }
  if (m.kind !== expected) return err(new GossipRejection('auth', `expected a ${expected} message, got ${JSON.stringify(m.kind)}`));
  if (secret) {
    if (!macMatches(m.mac, computeMac(secret, m.kind, m.sender, m.time_ms, m.snapshot))) {
      return err(new GossipRejection('auth', `bad MAC from ${JSON.stringify(m.sender.slice(0, 64))}`));
    }
  }
  if (Math.abs(now - m.time_ms) > maxSkewMs) {
    return err(new GossipRejection('stale', `message time is ${Math.round((now - m.time_ms) / 1000)} s off our clock (limit ${maxSkewMs / 1000} s)`));
  }
  let doc: unknown;
  try {
    doc = JSON.parse(m.snapshot.toString('utf8'));
  } catch (e) {
    return err(new GossipRejection('invalid', `snapshot is not JSON: ${(e as Error).message}`));
  }
  const snapshot = parseSnapshot(doc);
  if (!snapshot.ok) return err(new GossipRejection('invalid', snapshot.error.message));
  return ok({ sender: m.sender, timeMs: m.time_ms, snapshot: snapshot.value });
}
