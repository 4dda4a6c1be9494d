import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { feedbackRoute } from '../admin/routes.js';
import type { Decision, Engine, EngineObserver, Outcome } from '../engine/engine.js';
import type { ComponentFactory } from '../runtime/component.js';
import type { Clock } from '../util/clock.js';
import { identityOf, parseDecisionId, type DecisionIdInvalid } from './decision-id.js';

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

export type FeedbackOutcome = 'accepted' | 'duplicate' | 'expired' | 'invalid';
/** How a held decision ended without feedback (also feedback_total outcomes). */
export type SettleOutcome = 'defaulted' | 'unanswered' | 'evicted';

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
  | 'forgotten';

export interface FeedbackAnswer {
  decision_id: string | null;
  outcome: FeedbackOutcome;
  code?: FeedbackCode;
  reason?: string;
  /** accepted only: false when the route is frozen or the arm left the config (accepted, not learned). */
  recorded?: boolean;
}

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
 * Feedback for a decision issued by another replica (same key) is applied and
 * deduplicated here; the issuing replica does not learn of it, so with a
 * non-null default the issuer also applies its default: post to the issuing
 * replica (its id is in the decision id) or use `default: null`.
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
    if ('invalid' in parsed) return false;
    const key = identityOf(parsed.fields);
    // Feedback arrived before the response: it already counted.
    if (this.settled.has(key)) return true;
    if (o.failure !== '') {
      this.remember(key, d.time, 'response');
      return false;
    }
    if (this.pendingCount >= this.maxPending) this.evictOldest();
    let m = this.pending.get(d.route.name);
    if (!m) this.pending.set(d.route.name, (m = new Map()));
    m.set(key, { id: d.id, route: d.route.name, arm: d.route.armNames[d.arm]!, time: d.time, deadline: d.time + fb.wait_ms, context: d.context });
    this.pendingCount++;
    return true;
  }

  /** Answers one feedback item (already JSON-parsed). */
  submit(item: unknown): FeedbackAnswer {
    const answer = this.judge(item);
    this.opts.metrics?.feedback.inc({ outcome: answer.outcome });
    return answer;
  }

  private judge(item: unknown): FeedbackAnswer {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return invalid(null, 'not_an_object', 'each item must be an object {"decision_id": string, "reward": number}');
    }
    const { decision_id: id, reward } = item as { decision_id?: unknown; reward?: unknown };
    if (typeof id !== 'string' || id === '') return invalid(null, 'missing_decision_id', 'decision_id must be a non-empty string');
    const fields = this.opts.engine.ids.verify(id);
    if ('invalid' in fields) {
      // Ids of routes without feedback are issued unsigned (no HMAC on their hot path).
      const p = fields.invalid === 'unsigned' ? parseDecisionId(id) : null;
      if (p && 'fields' in p && this.opts.engine.route(p.fields.route)?.config.reward.feedback === null) {
        return invalid(id, 'feedback_off', `route "${p.fields.route}" does not take feedback (reward.feedback is not set)`);
      }
      return invalid(id, fields.invalid === 'unsigned' ? 'bad_signature' : fields.invalid, `decision_id: ${ID_REASONS[fields.invalid]}`);
    }
    if (typeof reward !== 'number' || !Number.isFinite(reward) || reward < 0 || reward > 1) {
      return invalid(id, 'bad_reward', 'reward must be a number in [0, 1]');
    }
    const route = this.opts.engine.route(fields.route);
    if (!route) return invalid(id, 'unknown_route', `route "${fields.route}" is not configured`);
    if (!route.armIndex.has(fields.arm)) return invalid(id, 'unknown_arm', `arm "${fields.arm}" is not configured on route "${fields.route}"`);
    const fb = route.config.reward.feedback;
    if (fb === null) return invalid(id, 'feedback_off', `route "${fields.route}" does not take feedback (reward.feedback is not set)`);
    const key = identityOf(fields);
    const prior = this.settled.get(key);
    if (prior) return { decision_id: id, outcome: 'duplicate', code: 'already_settled', reason: `already settled by ${prior.by}` };
    const now = this.opts.clock.now();
    const held = this.pending.get(fields.route)?.get(key);
    const deadline = held?.deadline ?? fields.time + fb.wait_ms;
    if (now > deadline) {
      if (held) this.settleHeld(key, held, 'defaulted');
      return { decision_id: id, outcome: 'expired', code: 'wait_passed', reason: `feedback.wait (${fb.wait_ms} ms) has passed` };
    }
    if (fields.time <= this.forgottenBefore && !held) {
      return { decision_id: id, outcome: 'expired', code: 'forgotten', reason: `older than the settled-decision memory (${this.maxSettled} decisions)` };
    }
    if (held) this.dropHeld(fields.route, key);
    this.remember(key, fields.time, 'feedback');
    const recorded = this.opts.engine.applyRewardByName(fields.route, fields.arm, reward, 'feedback', held?.id ?? id, held?.context);
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

const ID_REASONS: Record<DecisionIdInvalid, string> = {
  unsigned: 'bad signature (an unsigned id; its route took no feedback when it was issued)',
  malformed: 'malformed (expected <payload>.<signature> as issued in x-bandit-decision-id)',
  non_canonical: 'not in the canonical form it was issued in (re-encoded, padded or altered); send it byte for byte',
  bad_signature: 'bad signature (not issued by a replica sharing decision_ids.secret_file)',
};

function invalid(id: string | null, code: FeedbackCode, reason: string): FeedbackAnswer {
  return { decision_id: id, outcome: 'invalid', code, reason };
}

/** Holds feedback-configured rewards, sweeps them on a timer, serves POST /v1/feedback. */
export const feedbackComponent: ComponentFactory = (ctx) => {
  const manager = new FeedbackManager({ engine: ctx.engine, clock: ctx.clock, metrics: ctx.metrics, logger: ctx.logger });
  ctx.engine.observe(manager);
  ctx.admin.add(feedbackRoute(manager, ctx.logger));
  return {
    name: 'feedback',
    async start() {
      manager.start();
    },
    async stop() {
      const n = manager.stop();
      if (n > 0) ctx.logger.info({ settled: n }, 'feedback: held decisions settled with their default at shutdown');
    },
  };
};
