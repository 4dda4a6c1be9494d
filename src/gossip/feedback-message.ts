/**
 * Feedback forwarded between replicas (the Gossip service's Feedback call):
 * a JSON body, the sender, the replica it is for, a timestamp and an
 * HMAC-SHA256 with the fleet's gossip secret, under its own domain so a
 * gossip message can never pass for one. Verification never throws.
 */
import { err, ok, type Result } from '../util/errors.js';
import { DEFAULT_MAX_SKEW_MS, GossipRejection, macMatches, macOver } from './message.js';

export type FeedbackKind = 'forward' | 'answer';
const DOMAIN = 'envoy-bandit-feedback/1';

export interface WireFeedbackMessage {
  sender: string;
  target: string;
  time_ms: number;
  body: Buffer;
  mac: Buffer;
  kind: string;
}

export interface VerifiedFeedback {
  sender: string;
  body: unknown;
}

function mac(secret: Buffer, kind: string, sender: string, target: string, timeMs: number, body: Buffer): Buffer {
  return macOver(secret, [DOMAIN, kind, sender, target, String(timeMs), body]);
}

export function encodeFeedbackMessage(kind: FeedbackKind, sender: string, target: string, body: unknown, now: number, secret: Buffer | null): WireFeedbackMessage {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  const timeMs = Math.trunc(now);
  return { kind, sender, target, time_ms: timeMs, body: bytes, mac: secret ? mac(secret, kind, sender, target, timeMs, bytes) : Buffer.alloc(0) };
}

/**
 * Checks shape, kind, that it is for `self`, the MAC (when we hold a secret)
 * and the age, then parses the body. Without a secret any MAC is accepted.
 */
export function verifyFeedbackMessage(
  raw: unknown,
  expected: FeedbackKind,
  self: string,
  secret: Buffer | null,
  now: number,
  maxSkewMs = DEFAULT_MAX_SKEW_MS,
): Result<VerifiedFeedback, GossipRejection> {
  const m = raw as Partial<WireFeedbackMessage> | null;
  if (!m || typeof m.sender !== 'string' || m.sender === '' || typeof m.target !== 'string' || typeof m.time_ms !== 'number' || !Buffer.isBuffer(m.body)) {
    return err(new GossipRejection('invalid', 'malformed feedback message'));
  }
  if (m.kind !== expected) return err(new GossipRejection('auth', `expected a feedback ${expected}, got ${JSON.stringify(m.kind)}`));
  if (secret && !macMatches(m.mac, mac(secret, m.kind, m.sender, m.target, m.time_ms, m.body))) {
    return err(new GossipRejection('auth', `bad MAC on feedback from ${JSON.stringify(m.sender.slice(0, 64))}`));
  }
  if (m.target !== self) return err(new GossipRejection('invalid', `feedback is for replica ${JSON.stringify(m.target.slice(0, 64))}, this is ${JSON.stringify(self)}`));
  if (Math.abs(now - m.time_ms) > maxSkewMs) {
    return err(new GossipRejection('stale', `feedback message time is ${Math.round((now - m.time_ms) / 1000)} s off our clock (limit ${maxSkewMs / 1000} s)`));
  }
  let body: unknown;
  try {
    body = JSON.parse(m.body.toString('utf8'));
  } catch (e) {
    return err(new GossipRejection('invalid', `feedback body is not JSON: ${(e as Error).message}`));
  }
  return ok({ sender: m.sender, body });
}
