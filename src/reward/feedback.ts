import type { Logger } from 'pino';
import type { Metrics } from '../admin/metrics.js';
import { feedbackRoute } from '../admin/routes.js';
import type { Decision, Engine, EngineObserver, Outcome } from '../engine/engine.js';
import type { ComponentFactory } from '../runtime/component.js';
import type { Clock } from '../util/clock.js';

/** Pending (held) decisions per process; past it the oldest is settled early. */
export const MAX_PENDING = 100_000;
/** Settled decision ids remembered for duplicate detection (FIFO, also pruned past the longest wait). */
export const MAX_SETTLED_IDS = 200_000;
export const SWEEP_INTERVAL_MS = 1_000;

export type FeedbackOutcome = 'accepted' | 'duplicate' | 'expired' | 'invalid';
/** How a held decision ended without feedback (also feedback_total outcomes). */
export type SettleOutcome = 'defaulted' | 'unanswered' | 'evicted';

export interface FeedbackAnswer {
  decision_id: string | null;
  outcome: FeedbackOutcome;
  reason?: string;
  /** accepted only: false when the route is frozen or the arm left the config (accepted, not learned). */
  recorded?: boolean;
}

interface Pending {
  route: string;
  arm: string;
  /** Epoch ms of the decision. */
  time: number;
  /** Epoch ms after which feedback is refused and the default applies. */
  deadline: number;
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
 * Delayed feedback. When a route has `reward.feedback`, a successful
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
  private readonly settled = new Map<string, Settled>();
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
      for (const [id, p] of m) {
        this.settleWithoutFeedback(id, p, 'defaulted');
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
    // Feedback arrived before the response: it already counted.
    if (this.settled.has(d.id)) return true;
    if (o.failure !== '') {
      this.remember(d.id, d.time, 'response');
      return false;
    }
    if (this.pendingCount >= this.maxPending) this.evictOldest();
    let m = this.pending.get(d.route.name);
    if (!m) this.pending.set(d.route.name, (m = new Map()));
    m.set(d.id, { route: d.route.name, arm: d.route.armNames[d.arm]!, time: d.time, deadline: d.time + fb.wait_ms });
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
      return invalid(null, 'each item must be an object {"decision_id": string, "reward": number}');
    }
    const { decision_id: id, reward } = item as { decision_id?: unknown; reward?: unknown };
    if (typeof id !== 'string' || id === '') return invalid(null, 'decision_id must be a non-empty string');
    const fields = this.opts.engine.ids.verify(id);
    if ('invalid' in fields) return invalid(id, `decision_id: ${fields.invalid}`);
    if (typeof reward !== 'number' || !Number.isFinite(reward) || reward < 0 || reward > 1) {
      return invalid(id, 'reward must be a number in [0, 1]');
    }
    const route = this.opts.engine.route(fields.route);
    if (!route) return invalid(id, `route "${fields.route}" is not configured`);
    if (!route.armIndex.has(fields.arm)) return invalid(id, `arm "${fields.arm}" is not configured on route "${fields.route}"`);
    const fb = route.config.reward.feedback;
    if (fb === null) return invalid(id, `route "${fields.route}" does not take feedback (reward.feedback is not set)`);
    const prior = this.settled.get(id);
    if (prior) return { decision_id: id, outcome: 'duplicate', reason: `already settled by ${prior.by}` };
    const now = this.opts.clock.now();
    const held = this.pending.get(fields.route)?.get(id);
    const deadline = held?.deadline ?? fields.time + fb.wait_ms;
    if (now > deadline) {
      if (held) this.settleHeld(id, held, 'defaulted');
      return { decision_id: id, outcome: 'expired', reason: `feedback.wait (${fb.wait_ms} ms) has passed` };
    }
    if (held) this.dropHeld(fields.route, id);
    this.remember(id, fields.time, 'feedback');
    const recorded = this.opts.engine.applyRewardByName(fields.route, fields.arm, reward, 'feedback', id);
    return { decision_id: id, outcome: 'accepted', recorded };
  }

  /** Settles held decisions whose wait has passed, and forgets settled ids older than the longest wait. */
  sweep(now = this.opts.clock.now()): number {
    let n = 0;
    for (const [route, m] of this.pending) {
      for (const [id, p] of m) {
        if (p.deadline >= now) break;
        this.settleHeld(id, p, 'defaulted');
        n++;
      }
      if (m.size === 0) this.pending.delete(route);
    }
    const horizon = now - this.longestWait();
    for (const [id, s] of this.settled) {
      if (s.time >= horizon) break;
      this.settled.delete(id);
    }
    return n;
  }

  private longestWait(): number {
    let w = 0;
    for (const r of this.opts.engine.routes) w = Math.max(w, r.config.reward.feedback?.wait_ms ?? 0);
    return w;
  }

  private settleHeld(id: string, p: Pending, outcome: 'defaulted' | 'evicted'): void {
    this.dropHeld(p.route, id);
    this.settleWithoutFeedback(id, p, outcome);
  }

  private dropHeld(route: string, id: string): void {
    if (this.pending.get(route)?.delete(id)) this.pendingCount--;
  }

  private settleWithoutFeedback(id: string, p: Pending, outcome: 'defaulted' | 'evicted'): void {
    const def = this.opts.engine.route(p.route)?.config.reward.feedback?.default ?? null;
    const counted: SettleOutcome = def === null && outcome === 'defaulted' ? 'unanswered' : outcome;
    if (def !== null) this.opts.engine.applyRewardByName(p.route, p.arm, def, 'default', id);
    this.remember(id, p.time, def === null ? 'unanswered' : 'default');
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

  private remember(id: string, time: number, by: Settled['by']): void {
    this.settled.set(id, { time, by });
    if (this.settled.size > this.maxSettled) this.settled.delete(this.settled.keys().next().value!);
  }
}

function invalid(id: string | null, reason: string): FeedbackAnswer {
  return { decision_id: id, outcome: 'invalid', reason };
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
