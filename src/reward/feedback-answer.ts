/**
 * What a feedback item is answered with, and the wire rules for feedback a
 * replica forwards to the replica that issued the decision (docs/feedback.md).
 * No I/O here: the carrier (the gossip mesh) is injected as a FeedbackForwarder.
 */
import type { DecisionIdInvalid } from './decision-id.js';

/** Items per POST /v1/feedback, and per forwarded batch. */
export const MAX_FEEDBACK_BATCH = 1_000;

/**
 * `unavailable`: the decision was issued by another replica that could not be
 * asked (unreachable, or gone); nothing was counted — retry until the wait passes.
 */
export type FeedbackOutcome = 'accepted' | 'duplicate' | 'expired' | 'invalid' | 'unavailable';

/** Stable codes for every answer other than `accepted`. */
export type FeedbackCode =
  | DecisionIdInvalid
  | 'not_an_object'
  | 'missing_decision_id'
  | 'bad_reward'
  | 'unknown_route'
  | 'unknown_arm'
  | 'feedback_off'
  | 'already_settled'
  | 'wait_passed'
  | 'forgotten'
  | 'previous_incarnation'
  | 'other_replica'
  | 'not_issuer'
  | 'issuer_unreachable';

export interface FeedbackAnswer {
  decision_id: string | null;
  outcome: FeedbackOutcome;
  code?: FeedbackCode;
  reason?: string;
  /** accepted only: false when the route is frozen or the arm left the config (accepted, not learned). */
  recorded?: boolean;
  /** Set when another replica (the decision's issuer) settled the item: its replica id. */
  settled_by?: string;
}

/** One item as forwarded: already checked by the receiver (signature, range, route, arm). */
export interface ForwardItem {
  decision_id: string;
  reward: number;
}

/** Carries items to the replica that issued their decisions (the gossip mesh in a sidecar). */
export interface FeedbackForwarder {
  /** The issuer's raw answer (validated with parseIssuerAnswers), or why it could not be asked. */
  forward(issuer: string, items: readonly ForwardItem[]): Promise<{ ok: true; value: unknown } | { ok: false; error: string }>;
}

const OUTCOMES: ReadonlySet<string> = new Set<FeedbackOutcome>(['accepted', 'duplicate', 'expired', 'invalid', 'unavailable']);

/** The issuer's answers to `sent`, one per item, in order; a string says what is wrong with them. */
export function parseIssuerAnswers(body: unknown, sent: readonly ForwardItem[]): FeedbackAnswer[] | string {
  if (!Array.isArray(body)) return 'the answer is not an array';
  if (body.length !== sent.length) return `expected ${sent.length} answers, got ${body.length}`;
  const out: FeedbackAnswer[] = [];
  for (let i = 0; i < body.length; i++) {
    const a = body[i] as Partial<FeedbackAnswer> | null;
    if (typeof a !== 'object' || a === null || typeof a.outcome !== 'string' || !OUTCOMES.has(a.outcome)) return `answer ${i} has no valid outcome`;
    if (a.decision_id !== sent[i]!.decision_id) return `answer ${i} is for another decision`;
    const ans: FeedbackAnswer = { decision_id: a.decision_id, outcome: a.outcome };
    if (typeof a.code === 'string') ans.code = a.code as FeedbackCode;
    if (typeof a.reason === 'string') ans.reason = a.reason;
    if (typeof a.recorded === 'boolean') ans.recorded = a.recorded;
    out.push(ans);
  }
  return out;
}

/** Items forwarded to us, or what is wrong with the batch (each item is still judged in full). */
export function parseForwardedItems(body: unknown): unknown[] | string {
  if (!Array.isArray(body)) return 'forwarded feedback must be an array of items';
  if (body.length === 0 || body.length > MAX_FEEDBACK_BATCH) return `forwarded feedback must hold 1-${MAX_FEEDBACK_BATCH} items`;
  return body;
}
