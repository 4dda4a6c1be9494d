import type { Logger } from 'pino';
import { z } from 'zod';
import type { Metrics } from '../metrics/metrics.js';
import type { Decision, Engine, EngineObserver, Outcome } from '../engine/engine.js';
import type { Clock } from '../util/clock.js';
import { identityOf, parseDecisionId, type DecisionIdFields } from './decision-id.js';
import { parseForwardedItems, parseIssuerAnswers, type FeedbackAnswer, type FeedbackCode, type FeedbackForwarder, type ForwardItem } from './feedback-answer.js';

/** Pending (held) decisions per process; past it the oldest is settled early. */
export const MAX_PENDING = 100_000;
/**
 * Settled decisions remembered for duplicate detection. They are kept until
 * their feedback wait has passed (after that any feedback is `expired`), so
 * normally this bound is never reached. Past it the oldest is forgotten and
 * every decision as old or older is refused as `expired` from then on (a low
 * watermark): memory stays bounded and no id is ever accepted twice.
 */
export const MAX_SETTLED_IDS = 1_000_000;
export const SWEEP_INTERVAL_MS = 1_000;

/** How a held decision ended without feedback (also feedback_total outcomes). */
export type SettleOutcome = 'defaulted' | 'unanswered' | 'evicted';
export type { FeedbackAnswer, FeedbackCode, FeedbackOutcome } from './feedback-answer.js';

interface Pending {
  /** The decision id as issued (rewards are reported under it). */
  id: string;
  route: string;
  arm: string;
  /** Epoch ms of the decision. */
  time: number;
  /** Epoch ms after which feedback is refused and the default applies. */
  deadline: number;
  /** Contextual routes: the decision's context, so the delayed reward trains the right model. */
  context: Readonly<Record<string, string>> | undefined;
}

interface Settled {
  /** Epoch ms of the decision, for pruning past the longest wait. */
  time: number;
  /** What settled it, for the duplicate's reason. */
  by: 'response' | 'feedback' | 'default' | 'unanswered';
}

export interface FeedbackOptions {
  engine: Engine;
  clock: Clock;
  metrics: Metrics | null;
  logger: Logger | null;
  maxPending?: number;
  maxSettled?: number;
  /** Carries feedback for other replicas' decisions to their issuer (null: refused, code other_replica). */
  forwarder?: FeedbackForwarder | null;
}

/** An item that passed every check a receiver can make; settled here or by its issuer. */
interface Checked {
  id: string;
  reward: number;
  fields: DecisionIdFields;
  waitMs: number;
}

/**
 * Delayed feedback. Every decision is settled exactly once, keyed by its
 * identity (issuing replica, sequence) — never by the id's text — and only
 * canonical ids are taken (decision-id.ts). When a route has `reward.feedback`, a successful
 * response's reward is held until feedback for its decision id arrives (that
 * reward is applied, source `feedback`) or `wait` passes (the default is
 * applied, source `default`, or nothing when the default is null). A failed
 * response is recorded at once as 0 and no feedback can redeem it.
 *
 * Only the process that issued a decision settles it (docs/feedback.md): it
 * alone holds the decision, its default and its settled ids, and only it
 * writes its slot. Feedback for another replica's decision is checked here
 * (signature, reward, route, arm, wait) and forwarded to its issuer, whose
 * answer is relayed (`settled_by`); an issuer that cannot be asked is
 * `unavailable` and nothing is counted. Feedback for an id of an earlier
 * process of this replica is `expired` (previous_incarnation): that process
 * settled it at shutdown (or lost it in a crash) and its settled ids are gone.
 */
export class FeedbackManager implements EngineObserver {
  /** Held decisions per route, in arrival order (≈ deadline order within a route). */
  private readonly pending = new Map<string, Map<string, Pending>>();
  private pendingCount = 0;
  /** identity (replica, seq) → how it was settled; insertion order. */
  private readonly settled = new Map<string, Settled>();
  /** Decisions at or before this time are refused as expired (see MAX_SETTLED_IDS). */
  private forgottenBefore = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  /** After stop(), responses are learned at once: nothing would settle a held one. */
  private stopped = false;
  private readonly maxPending: number;
  private readonly maxSettled: number;

  constructor(private readonly opts: FeedbackOptions) {
    this.maxPending = opts.maxPending ?? MAX_PENDING;
    this.maxSettled = opts.maxSettled ?? MAX_SETTLED_IDS;
    this.forwarder = opts.forwarder ?? null;
  }

  get pendingSize(): number {
    return this.pendingCount;
  }
  get settledSize(): number {
    return this.settled.size;
  }

  start(intervalMs = SWEEP_INTERVAL_MS): void {
    this.timer = setInterval(() => this.sweep(), intervalMs);
    this.timer.unref();
  }

  /** Stops the sweep and settles every held decision now (the process will not see their feedback). */
  stop(): number {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    let n = 0;
    for (const [route, m] of this.pending) {
      for (const [key, p] of m) {
        this.settleWithoutFeedback(key, p, 'defaulted');
        n++;
      }
      m.clear();
      this.pending.delete(route);
    }
    this.pendingCount = 0;
    return n;
  }

  deferReward(d: Decision, o: Outcome): boolean {
    const fb = this.opts.engine.route(d.route.name)?.config.reward.feedback ?? null;
    if (fb === null || this.stopped) return false;
    const parsed = parseDecisionId(d.id);
    // Our own ids always parse; anything else is learned at once, as without feedback.
    if (!parsed.ok) return false;
    const key = identityOf(parsed.value.fields);
    // Feedback arrived before the response: it already counted.
    if (this.settled.has(key)) return true;
    if (o.failure !== '') {
      this.remember(key, d.time, 'response');
      return false;
    }
    if (this.pendingCount >= this.maxPending) this.evictOldest();
    let m = this.pending.get(d.route.name);
    if (!m) this.pending.set(d.route.name, (m = new Map()));
    m.set(key, { id: d.id, route: d.route.name, arm: d.armName, time: d.time, deadline: d.time + fb.wait_ms, context: d.context });
    this.pendingCount++;
    return true;
  }

  /** Carries feedback for other replicas' decisions (set when the gossip mesh starts). */
  forwarder: FeedbackForwarder | null;

  /** Answers one feedback item (already JSON-parsed). */
  async submit(item: unknown): Promise<FeedbackAnswer> {
    return (await this.submitBatch([item]))[0]!;
  }

  /**
   * Answers items in order. Items for this replica's decisions are settled
   * here; items for another replica's are forwarded to it, one call per issuer.
   */
  async submitBatch(items: readonly unknown[]): Promise<FeedbackAnswer[]> {
    const answers: FeedbackAnswer[] = new Array(items.length);
    const byIssuer = new Map<string, Array<{ index: number; item: ForwardItem }>>();
    items.forEach((item, index) => {
      const c = this.check(item);
      if ('outcome' in c) answers[index] = this.count(c);
      else if (c.fields.replica === this.opts.engine.ids.replica) answers[index] = this.count(this.settle(c));
      else if (this.forwarder === null) {
        answers[index] = this.count(invalid(c.id, 'other_replica', `decision issued by replica "${c.fields.replica}", which this replica cannot reach (no gossip mesh): post it there`));
      } else {
        let list = byIssuer.get(c.fields.replica);
        if (!list) byIssuer.set(c.fields.replica, (list = []));
        list.push({ index, item: { decision_id: c.id, reward: c.reward } });
      }
    });
    await Promise.all([...byIssuer].map(([issuer, list]) => this.forwardTo(issuer, list, answers)));
    return answers;
  }

  /**
   * Items another replica forwarded to us (we issued them): judged in full
   * and settled here; an item we did not issue is refused (not_issuer).
   */
  settleForwarded(body: unknown): FeedbackAnswer[] | string {
    const items = parseForwardedItems(body);
    if (typeof items === 'string') return items;
    return items.map((item) => {
      const c = this.check(item);
      if ('outcome' in c) return this.count(c);
      if (c.fields.replica !== this.opts.engine.ids.replica) {
        return this.count(invalid(c.id, 'not_issuer', `forwarded to replica "${this.opts.engine.ids.replica}", but issued by "${c.fields.replica}"`));
      }
      return this.count(this.settle(c));
    });
  }

  private async forwardTo(issuer: string, list: Array<{ index: number; item: ForwardItem }>, answers: FeedbackAnswer[]): Promise<void> {
    const sent = list.map((x) => x.item);
    let why: string;
    try {
      const r = await this.forwarder!.forward(issuer, sent);
      if (r.ok) {
        const got = parseIssuerAnswers(r.value, sent);
        if (typeof got !== 'string') {
          this.opts.metrics?.feedback.inc({ outcome: 'forwarded' }, got.length);
          got.forEach((a, i) => (answers[list[i]!.index] = { ...a, settled_by: issuer }));
          return;
        }
        why = `its answer was unusable: ${got}`;
      } else why = r.error;
    } catch (e) {
      why = (e as Error).message;
    }
    this.opts.logger?.warn({ issuer, items: list.length, reason: why }, 'feedback: the issuing replica could not be asked; nothing counted');
    for (const { index, item } of list) {
      answers[index] = this.count({
        decision_id: item.decision_id,
        outcome: 'unavailable',
        code: 'issuer_unreachable',
        reason: `decision issued by replica "${issuer}", which settles it and could not be asked (${why}); nothing was counted: retry until feedback.wait passes`,
      });
    }
  }

  private count(answer: FeedbackAnswer): FeedbackAnswer {
    this.opts.metrics?.feedback.inc({ outcome: answer.outcome });
    return answer;
  }

  /** Every check a receiver can make without holding the decision. */
  private check(item: unknown): FeedbackAnswer | Checked {
    const parsed = FEEDBACK_ITEM.safeParse(item);
    // Each bad field keeps its own answer code, in this order: the item, its id (and the id's signature), its reward.
    const bad = parsed.success ? null : new Set(parsed.error.issues.map((i) => String(i.path[0] ?? '')));
    if (bad?.has('')) return invalid(null, 'not_an_object', 'each item must be an object {"decision_id": string, "reward": number}');
    if (bad?.has('decision_id')) return invalid(null, 'missing_decision_id', 'decision_id must be a non-empty string');
    const { decision_id: id, reward } = item as z.infer<typeof FEEDBACK_ITEM>;
    const verified = this.opts.engine.ids.verify(id);
    if (!verified.ok) {
      const { reason, message } = verified.error;
      // Ids of routes without feedback are issued unsigned (no HMAC on their hot path).
      const p = reason === 'unsigned' ? parseDecisionId(id) : null;
      if (p?.ok && this.opts.engine.route(p.value.fields.route)?.config.reward.feedback === null) {
        return invalid(id, 'feedback_off', `route "${p.value.fields.route}" does not take feedback (reward.feedback is not set)`);
      }
      return invalid(id, reason === 'unsigned' ? 'bad_signature' : reason, `decision_id: ${message}`);
    }
    const fields = verified.value;
    if (bad?.has('reward')) return invalid(id, 'bad_reward', 'reward must be a number in [0, 1]');
    const route = this.opts.engine.route(fields.route);
    if (!route) return invalid(id, 'unknown_route', `route "${fields.route}" is not configured`);
    if (!route.armIndex.has(fields.arm)) return invalid(id, 'unknown_arm', `arm "${fields.arm}" is not configured on route "${fields.route}"`);
    const fb = route.config.reward.feedback;
    if (fb === null) return invalid(id, 'feedback_off', `route "${fields.route}" does not take feedback (reward.feedback is not set)`);
    // Past the wait no replica would count it: answered here, even for another replica's decision.
    if (fields.replica !== this.opts.engine.ids.replica && this.opts.clock.now() > fields.time + fb.wait_ms) return waitPassed(id, fb.wait_ms);
    return { id, reward, fields, waitMs: fb.wait_ms };
  }

  /** Settles a checked item of our own decision: once per identity. */
  private settle(c: Checked): FeedbackAnswer {
    const { id, fields } = c;
    if (fields.seq <= this.opts.engine.ids.firstSeq) {
      return {
        decision_id: id,
        outcome: 'expired',
        code: 'previous_incarnation',
        reason: `issued before replica "${fields.replica}" last restarted; that process settled it at shutdown (with the default, if any) or lost it in a crash`,
      };
    }
    const key = identityOf(fields);
    const prior = this.settled.get(key);
    if (prior) return { decision_id: id, outcome: 'duplicate', code: 'already_settled', reason: `already settled by ${prior.by}` };
    const now = this.opts.clock.now();
    const held = this.pending.get(fields.route)?.get(key);
    const deadline = held?.deadline ?? fields.time + c.waitMs;
    if (now > deadline) {
      if (held) this.settleHeld(key, held, 'defaulted');
      return waitPassed(id, c.waitMs);
    }
    if (fields.time <= this.forgottenBefore && !held) {
      return { decision_id: id, outcome: 'expired', code: 'forgotten', reason: `older than the settled-decision memory (${this.maxSettled} decisions)` };
    }
    if (held) this.dropHeld(fields.route, key);
    this.remember(key, fields.time, 'feedback');
    const recorded = this.opts.engine.applyRewardByName(fields.route, fields.arm, c.reward, 'feedback', held?.id ?? id, held?.context);
    return { decision_id: id, outcome: 'accepted', recorded };
  }

  /** Settles held decisions whose wait has passed, and forgets settled ids older than the longest wait. */
  sweep(now = this.opts.clock.now()): number {
    let n = 0;
    for (const [route, m] of this.pending) {
      for (const [key, p] of m) {
        if (p.deadline >= now) break;
        this.settleHeld(key, p, 'defaulted');
        n++;
      }
      if (m.size === 0) this.pending.delete(route);
    }
    const horizon = now - this.longestWait();
    for (const [key, s] of this.settled) {
      if (s.time >= horizon) break;
      this.settled.delete(key);
    }
    return n;
  }

  private longestWait(): number {
    let w = 0;
    for (const r of this.opts.engine.routes) w = Math.max(w, r.config.reward.feedback?.wait_ms ?? 0);
    return w;
  }

  private settleHeld(key: string, p: Pending, outcome: 'defaulted' | 'evicted'): void {
    this.dropHeld(p.route, key);
    this.settleWithoutFeedback(key, p, outcome);
  }

  private dropHeld(route: string, key: string): void {
    if (this.pending.get(route)?.delete(key)) this.pendingCount--;
  }

  private settleWithoutFeedback(key: string, p: Pending, outcome: 'defaulted' | 'evicted'): void {
    const def = this.opts.engine.route(p.route)?.config.reward.feedback?.default ?? null;
    const counted: SettleOutcome = def === null && outcome === 'defaulted' ? 'unanswered' : outcome;
    if (def !== null) this.opts.engine.applyRewardByName(p.route, p.arm, def, 'default', p.id, p.context);
    this.remember(key, p.time, def === null ? 'unanswered' : 'default');
    this.opts.metrics?.feedback.inc({ outcome: counted });
  }

  private evictOldest(): void {
    let oldest: [string, Pending] | undefined;
    for (const m of this.pending.values()) {
      const head = m.entries().next();
      if (!head.done && (oldest === undefined || head.value[1].deadline < oldest[1].deadline)) oldest = head.value;
    }
    if (oldest) this.settleHeld(oldest[0], oldest[1], 'evicted');
  }

  private remember(key: string, time: number, by: Settled['by']): void {
    this.settled.set(key, { time, by });
    if (this.settled.size > this.maxSettled) {
      const [oldKey, old] = this.settled.entries().next().value!;
      this.settled.delete(oldKey);
      this.forgottenBefore = Math.max(this.forgottenBefore, old.time);
    }
  }
}

/** One feedback item as a client sends it (POST /v1/feedback, or forwarded by another replica). */
const FEEDBACK_ITEM = z.object({ decision_id: z.string().min(1), reward: z.number().min(0).max(1) });

function invalid(id: string | null, code: FeedbackCode, reason: string): FeedbackAnswer {
  return { decision_id: id, outcome: 'invalid', code, reason };
}

function waitPassed(id: string, waitMs: number): FeedbackAnswer {
  return { decision_id: id, outcome: 'expired', code: 'wait_passed', reason: `feedback.wait (${waitMs} ms) has passed` };
}
