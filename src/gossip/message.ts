/**
 * Gossip messages (the Exchange call): a snapshot as JSON bytes, the sender, a
 * timestamp and an HMAC-SHA256 over all of it with the shared secret, sealed
 * and opened by envelope.ts. Verification never throws: a bad message is an
 * error value with a stable code.
 */
import { parseSnapshot, type Snapshot } from '../state/snapshot.js';
import { err, ok, type Result } from '../util/errors.js';
import { DEFAULT_MAX_SKEW_MS, envelopeMac, GossipRejection, openEnvelope, seal, type EnvelopeType } from './envelope.js';
import type { WireGossipMessage } from './proto.js';

export type MessageKind = 'push' | 'pull';
const GOSSIP: EnvelopeType = { domain: 'envoy-bandit-gossip/1', noun: 'gossip message', payload: 'snapshot' };

export function computeMac(secret: Buffer, kind: string, sender: string, timeMs: number, snapshot: Buffer): Buffer {
  return envelopeMac(secret, GOSSIP, { kind, sender, target: null, timeMs, payload: snapshot });
}

export function encodeMessage(kind: MessageKind, sender: string, snapshot: Snapshot, now: number, secret: Buffer | null): WireGossipMessage {
  const s = seal(GOSSIP, kind, sender, null, snapshot, now, secret);
  return { kind, sender, time_ms: s.timeMs, snapshot: s.payload, mac: s.mac };
}

export interface VerifiedMessage {
  sender: string;
  timeMs: number;
  snapshot: Snapshot;
}

/**
 * Checks shape, kind, MAC (when we hold a secret), age, then parses the snapshot.
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
    return err(new GossipRejection('invalid', `malformed ${GOSSIP.noun}`));
  }
  const doc = openEnvelope(GOSSIP, { kind: m.kind as string, sender: m.sender, target: null, timeMs: m.time_ms, payload: m.snapshot }, m.mac, { expected, secret, now, maxSkewMs });
  if (!doc.ok) return doc;
  const snapshot = parseSnapshot(doc.value);
  if (!snapshot.ok) return err(new GossipRejection('invalid', snapshot.error.message));
  return ok({ sender: m.sender, timeMs: m.time_ms, snapshot: snapshot.value });
}
