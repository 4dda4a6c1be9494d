/**
 * Feedback forwarded between replicas (the Gossip service's Feedback call):
 * a JSON body, the sender, the replica it is for, a timestamp and an
 * HMAC-SHA256 with the fleet's gossip secret, sealed and opened by
 * envelope.ts under its own domain so a gossip message can never pass for
 * one. Verification never throws.
 */
import { err, ok, type Result } from '../util/errors.js';
import { DEFAULT_MAX_SKEW_MS, GossipRejection, openEnvelope, seal, type EnvelopeType } from './envelope.js';

export type FeedbackKind = 'forward' | 'answer';
const FEEDBACK: EnvelopeType = { domain: 'envoy-bandit-feedback/1', noun: 'feedback message', payload: 'feedback body' };

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

export function encodeFeedbackMessage(kind: FeedbackKind, sender: string, target: string, body: unknown, now: number, secret: Buffer | null): WireFeedbackMessage {
  const s = seal(FEEDBACK, kind, sender, target, body, now, secret);
  return { kind, sender, target, time_ms: s.timeMs, body: s.payload, mac: s.mac };
}

/**
 * Checks shape, kind, the MAC (when we hold a secret), that it is for `self`
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
    return err(new GossipRejection('invalid', `malformed ${FEEDBACK.noun}`));
  }
  const body = openEnvelope(FEEDBACK, { kind: m.kind as string, sender: m.sender, target: m.target, timeMs: m.time_ms, payload: m.body }, m.mac, { expected, self, secret, now, maxSkewMs });
  return body.ok ? ok({ sender: m.sender, body: body.value }) : body;
}
