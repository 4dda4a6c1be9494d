import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import type { Config, GuardrailsConfig } from '../config/types.js';
import type { Decision, Engine, EngineObserver, Outcome } from '../engine/engine.js';
import type { RouteRuntime } from '../engine/route-runtime.js';
import { nextGuardPhase, type GuardPhase } from '../engine/eligibility.js';
import type { EventSink } from '../notify/events.js';
import type { Clock } from '../util/clock.js';
import { ArmGuard, type GuardReadings } from './arm-guard.js';
import { isArmError } from './blame.js';
import { signalOf, type GuardRule, type GuardSignal, type RuleReading, type Verdict } from './verdict.js';

/** Every arm is evaluated this often by the timer. */
export const EVAL_INTERVAL_MS = 250;
/** An outcome re-evaluates its arm at most this often, so trips are fast at high rps without per-request cost. */
export const EAGER_EVAL_MIN_MS = 100;
/** Each failed probation doubles the next cooldown, up to this factor. */
export const MAX_BACKOFF_FACTOR = 8;
/**
 * Common mode: a failing arm is held (not quarantined) when every other
 * active arm with enough samples has moved at least this far from its own
 * baseline toward its own limit on the same signal (0 = baseline, 1 = limit).
 */
export const COMMON_MODE_SHIFT = 0.5;
/**
 * ...and, for error rates, at least this fraction of the failing arm's own
 * shift: an arm at 70 % errors beside peers a little raised by a loaded host
 * (shift 2 against 0.5) is still a sick arm.
 */
export const COMMON_MODE_RATIO = 0.5;
/**
 * After a common-mode event, arms drain at different speeds: for one window
 * a trip on that signal is still held while any peer remains shifted this far.
 */
export const COMMON_MODE_DRAIN_SHIFT = 0.25;

/**
 * A latency verdict must still fail this long after it first failed before it
 * acts. A p95 is a step: when every arm slows at once, the first arm whose
 * recent span holds 5 % slow responses crosses its limit a few ms before its
 * peers do, and the common-mode check would see calm peers. One evaluation
 * tick later they have crossed too. Error-rate verdicts act at once (a rate
 * moves smoothly on every arm).
 */
export const LATENCY_CONFIRM_MS = EVAL_INTERVAL_MS;
/**
 * The error CUSUM's verdict must still fail this long after it first failed.
 * When every arm fails at once, their statistics cross the threshold some
 * requests apart (a CUSUM is a random walk); a tick later the peers have
 * crossed too, and the common-mode check sees them. In 100 simulated runs of
 * 50 % errors on all three arms for 3 s at 200 req/s, 2 still quarantined one
 * arm (docs/guardrails.md). A lone sick arm's statistic keeps growing, so
 * this adds 250 ms to its detection.
 */
export const SEQUENTIAL_CONFIRM_MS = LATENCY_CONFIRM_MS;

/** How long a failing rule must keep failing before it acts (0: at once). */
export function confirmMs(rule: GuardRule): number {
  if (signalOf(rule) === 'latency') return LATENCY_CONFIRM_MS;
  return rule === 'cusum_error_rate' ? SEQUENTIAL_CONFIRM_MS : 0;
}

export type HoldReason = 'common_mode' | 'last_arm';

export type { GuardPhase } from '../engine/eligibility.js';

interface ArmTrack {
  readonly arm: string;
  guard: ArmGuard;
  phase: GuardPhase;
  /** Latest `until` among the flags in force while quarantined. */
  flagUntil: number;
  /** alert_only: a trip was reported and the arm has not passed since (log once). */
  alerted: boolean;
  /** Consecutive failed probations (cooldown backoff). */
  failures: number;
  lastEval: number;
  last: Verdict | null;
  /** Why the latest failing verdict was held, if it was (logged on change). */
  held: HoldReason | null;
  /** When a verdict that needs confirming (confirmMs) started failing, or null. */
  failSince: number | null;
}

interface RouteTrack {
  readonly name: string;
  cfg: GuardrailsConfig;
  arms: ArmTrack[];
  byArm: Map<string, ArmTrack>;
  /** Per signal: until when a common-mode event is still draining (epoch ms). */
  commonUntil: Record<GuardSignal, number>;
}

export interface GuardrailsOptions {
  engine: Engine;
  clock: Clock;
  metrics: Metrics | null;
  logger: Logger | null;
  /** Where quarantines and releases are published for notifications (none: not published). */
  events?: EventSink | null;
}

/**
 * The guardrails: watch every outcome, judge each arm (pass / fail /
 * inconclusive) and act — quarantine (published in this replica's gossip slot,
 * so the fleet follows) or alert only; after the cooldown, re-probe at the
 * floor share and release only on a pass. When every arm is quarantined the
 * engine sends the route to its default arm (contract): accepted, not
 * prevented here, because keeping a failing arm in service is worse than the
 * operator's chosen fallback.
 */
export class Guardrails implements EngineObserver {
  private routes = new Map<string, RouteTrack>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: GuardrailsOptions) {
    this.build(opts.engine.config);
    opts.engine.observe(this);
  }

  start(intervalMs = EVAL_INTERVAL_MS): void {
    this.stop();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Rebuilds for a new config; signals and phases carry over for arms whose guardrails are unchanged. */
  reconfigure(config: Config): void {
    this.build(config);
    for (const rt of this.routes.values()) {
      for (const t of rt.arms) if (t.phase === 'probation') this.opts.engine.setProbation(rt.name, t.arm, true);
    }
  }

  private build(config: Config): void {
    const old = this.routes;
    this.routes = new Map();
    for (const rc of config.routes) {
      const cfg = rc.guardrails;
      if (!cfg) continue;
      const prev = old.get(rc.name);
      const same = prev !== undefined && JSON.stringify(prev.cfg) === JSON.stringify(cfg);
      const arms = rc.arms.map((a): ArmTrack => {
        const p = prev?.byArm.get(a.name);
        if (p && same) return p;
        const guard = new ArmGuard(cfg);
        if (p) return { ...p, guard, last: null };
        return { arm: a.name, guard, phase: 'active', flagUntil: 0, alerted: false, failures: 0, lastEval: Number.NEGATIVE_INFINITY, last: null, held: null, failSince: null };
      });
      const commonUntil = prev?.commonUntil ?? { errors: Number.NEGATIVE_INFINITY, latency: Number.NEGATIVE_INFINITY };
      this.routes.set(rc.name, { name: rc.name, cfg, arms, byArm: new Map(arms.map((t) => [t.arm, t])), commonUntil });
    }
  }

  onOutcome(d: Decision, o: Outcome): void {
    const rt = this.routes.get(d.route.name);
    const t = rt?.byArm.get(d.armName);
    if (!rt || !t) return;
    const now = this.opts.clock.now();
    // An exchange that did not complete (timeout, reset, connect failure, no response) has no valid status: blame() reads it as status 0.
    t.guard.record(now, isArmError(o.exchange.end === 'complete' ? o : { status: 0, grpcStatus: o.grpcStatus }, rt.cfg), o.latencyMs);
    // A sequential chart that has just crossed its threshold is judged at once (its confirmation clock starts now).
    if (now - t.lastEval >= EAGER_EVAL_MIN_MS || (t.failSince === null && t.phase !== 'quarantined' && t.guard.sequentialFailing)) this.evaluateArm(rt, t, now);
  }

  /** Evaluates every arm (the timer calls this; tests call it with a manual clock). */
  tick(now = this.opts.clock.now()): void {
    for (const rt of this.routes.values()) for (const t of rt.arms) this.evaluateArm(rt, t, now);
  }

  phase(route: string, arm: string): GuardPhase | undefined {
    return this.routes.get(route)?.byArm.get(arm)?.phase;
  }

  lastVerdict(route: string, arm: string): Verdict | null {
    return this.routes.get(route)?.byArm.get(arm)?.last ?? null;
  }

  /** Every applicable rule's value and limit now (for margins and diagnostics). */
  ruleReadings(route: string, arm: string): RuleReading[] {
    return this.routes.get(route)?.byArm.get(arm)?.guard.ruleReadings(this.opts.clock.now()) ?? [];
  }

  private evaluateArm(rt: RouteTrack, t: ArmTrack, now: number): void {
    const route = this.opts.engine.route(rt.name);
    const a = route?.armIndex.get(t.arm);
    if (!route || a === undefined) return;
    t.lastEval = now;
    if (!this.syncPhase(rt, t, route, a, now)) return;
    const v = t.guard.evaluate(now);
    t.last = v;
    if (v.kind !== 'fail' || confirmMs(v.rule) === 0) t.failSince = null;
    if (v.kind === 'inconclusive') return;
    if (v.kind === 'pass') t.held = null;
    if (t.phase === 'probation') {
      if (v.kind === 'pass') this.release(rt, t, v);
      else if (!this.hold(rt, t, v, now, route, a, false)) this.trip(rt, t, v, now);
      return;
    }
    if (v.kind === 'fail') {
      const wait = confirmMs(v.rule);
      if (wait > 0) {
        t.failSince ??= now;
        if (now - t.failSince < wait) return;
      }
      if (!this.hold(rt, t, v, now, route, a, true)) this.trip(rt, t, v, now);
    } else if (t.alerted) {
      t.alerted = false;
      this.opts.logger?.info({ route: rt.name, arm: t.arm, samples: v.samples }, 'guardrail alert cleared');
    }
  }

  /**
   * Follows the engine's eligibility (our flags, peers' flags, operators;
   * rules 3 and 4 of engine/eligibility.ts). Returns whether the arm should be
   * judged now (not while quarantined).
   */
  private syncPhase(rt: RouteTrack, t: ArmTrack, route: RouteRuntime, a: number, now: number): boolean {
    const engine = this.opts.engine;
    engine.refreshEligibility(route, now);
    switch (nextGuardPhase(t.phase, route.eligibility.eligible[a] === 1, t.flagUntil, now)) {
      case 'quarantine': {
        const until = this.flagsUntil(route, a, now);
        if (t.phase !== 'quarantined') {
          this.publishPeerQuarantine(rt, t, route, a, now, until);
          this.enterQuarantine(rt, t, until);
        } else t.flagUntil = Math.max(t.flagUntil, until);
        return false;
      }
      case 'probation':
        t.phase = 'probation';
        t.guard.startProbation();
        engine.setProbation(rt.name, t.arm, true);
        this.opts.logger?.info({ route: rt.name, arm: t.arm, min_samples: rt.cfg.min_samples }, 'guardrail cooldown over; re-probing the arm at the floor share');
        return true;
      case 'released':
        // The operator's call accepts the arm as it is now, so its old baseline no longer applies.
        t.phase = 'active';
        t.failures = 0;
        t.guard.resetBaseline();
        t.guard.dropWindow();
        this.opts.logger?.info({ route: rt.name, arm: t.arm }, 'arm released by hand; guardrail baseline reset');
        return true;
      case 'judge':
        return true;
    }
  }

  /** The arm went into quarantine by a flag this replica did not raise just now (a peer, an operator). */
  private publishPeerQuarantine(rt: RouteTrack, t: ArmTrack, route: RouteRuntime, a: number, now: number, until: number): void {
    const events = this.opts.events;
    if (!events) return;
    const flags = this.opts.engine.quarantineFlags(route, a, now);
    const first = flags.reduce<(typeof flags)[number] | undefined>((m, f) => (m === undefined || f.since < m.since ? f : m), undefined);
    events.publish({
      kind: t.phase === 'probation' ? 'probe_failed' : 'quarantine',
      scope: 'fleet',
      origin: 'peer',
      route: rt.name,
      arm: t.arm,
      rule: first?.rule ?? 'unknown',
      since: first?.since ?? now,
      until,
      readings: [],
    });
  }

  /**
   * Whether a failing verdict is held instead of quarantining: the shift hit
   * every arm at once (common mode: a sick host, a shared dependency or a
   * client-wide change, not a sick arm), or the arm is the route's last
   * eligible one (guardrails alone never leave a route with nothing to serve).
   */
  private hold(rt: RouteTrack, t: ArmTrack, v: Extract<Verdict, { kind: 'fail' }>, now: number, route: RouteRuntime, a: number, checkCommon: boolean): boolean {
    let reason: HoldReason | null = null;
    const el = route.eligibility;
    const others = el.eligibleCount - (el.eligible[a] ? 1 : 0);
    if (rt.cfg.action === 'quarantine' && others === 0) reason = 'last_arm';
    else if (checkCommon && this.commonMode(rt, t, signalOf(v.rule), now)) reason = 'common_mode';
    if (reason === null) return false;
    if (t.held !== reason) {
      t.held = reason;
      this.opts.metrics?.guardrailHolds.inc({ route: rt.name, arm: t.arm, reason });
      const msg = reason === 'common_mode' ? 'guardrail failing verdict held: every arm shifted at once (common mode)' : 'guardrail failing verdict held: the last eligible arm stays in service';
      this.opts.logger?.warn({ route: rt.name, arm: t.arm, rule: v.rule, value: v.value, limit: v.limit, samples: v.samples, reason }, msg);
    }
    return true;
  }

  private commonMode(rt: RouteTrack, t: ArmTrack, signal: GuardSignal, now: number): boolean {
    const draining = now < rt.commonUntil[signal];
    // The ratio applies to error rates only: a p95 is a step, so peers of a stalled host cross it unevenly.
    const own = signal === 'errors' ? (t.guard.shift(signal, now) ?? 1) : 1;
    const need = Math.max(COMMON_MODE_SHIFT, COMMON_MODE_RATIO * own);
    const drainNeed = Math.max(COMMON_MODE_DRAIN_SHIFT, (COMMON_MODE_RATIO / 2) * own);
    let witnesses = 0;
    let shifted = 0;
    let drain = false;
    for (const p of rt.arms) {
      if (p === t || p.phase !== 'active') continue;
      const s = p.guard.shift(signal, now);
      if (s === null) continue;
      witnesses++;
      if (s >= need) shifted++;
      if (s >= drainNeed) drain = true;
    }
    if (witnesses > 0 && shifted === witnesses) {
      rt.commonUntil[signal] = now + rt.cfg.window_ms;
      return true;
    }
    return draining && drain;
  }

  private enterQuarantine(rt: RouteTrack, t: ArmTrack, until: number): void {
    if (t.phase === 'probation') this.opts.engine.setProbation(rt.name, t.arm, false);
    t.guard.endProbation();
    t.guard.dropWindow();
    t.phase = 'quarantined';
    t.flagUntil = until;
    t.failSince = null;
  }

  private flagsUntil(route: RouteRuntime, a: number, now: number): number {
    let until = now;
    for (const f of this.opts.engine.quarantineFlags(route, a, now)) until = Math.max(until, f.until);
    return until;
  }

  private trip(rt: RouteTrack, t: ArmTrack, v: Extract<Verdict, { kind: 'fail' }>, now: number): void {
    const quarantine = rt.cfg.action === 'quarantine';
    if (!quarantine && t.alerted) return;
    const probation = t.phase === 'probation';
    const factor = probation ? Math.min(MAX_BACKOFF_FACTOR, 2 ** (t.failures + 1)) : 1;
    const cooldown = rt.cfg.cooldown_ms * factor;
    const until = now + cooldown;
    this.opts.metrics?.guardrailTrips.inc({ route: rt.name, arm: t.arm, rule: v.rule });
    const fields = {
      route: rt.name,
      arm: t.arm,
      rule: v.rule,
      value: v.value,
      limit: v.limit,
      samples: v.samples,
      window_ms: rt.cfg.window_ms,
      action: rt.cfg.action,
      during_probation: probation,
      ...(quarantine ? { cooldown_ms: cooldown, until } : {}),
    };
    if (!quarantine) {
      t.alerted = true;
      this.opts.logger?.warn(fields, 'guardrail trip (alert only; traffic unchanged)');
      return;
    }
    if (probation) t.failures++;
    this.opts.engine.quarantineArm(rt.name, t.arm, v.rule, until, 'guardrail');
    this.opts.events?.publish({
      kind: probation ? 'probe_failed' : 'quarantine',
      scope: 'fleet',
      origin: 'trip',
      route: rt.name,
      arm: t.arm,
      rule: v.rule,
      since: now,
      until,
      readings: t.guard.ruleReadings(now).map((r) => ({ rule: r.rule, value: r.value, limit: r.limit, samples: r.samples })),
    });
    this.enterQuarantine(rt, t, until);
    this.opts.logger?.warn(fields, 'guardrail trip; arm quarantined');
  }

  private release(rt: RouteTrack, t: ArmTrack, v: Extract<Verdict, { kind: 'pass' }>): void {
    const engine = this.opts.engine;
    engine.setProbation(rt.name, t.arm, false);
    t.guard.endProbation();
    t.phase = 'active';
    t.failures = 0;
    this.opts.events?.publish({ kind: 'release', scope: 'fleet', route: rt.name, arm: t.arm, how: 'probation_passed' });
    this.opts.logger?.info({ route: rt.name, arm: t.arm, samples: v.samples }, 'guardrail release: arm passed probation');
  }

  /** What GET /v1/routes shows for an arm under guardrails (phase, last verdict, window readings); null for other arms. */
  readings(route: string, arm: string): Record<string, unknown> | null {
    const rt = this.routes.get(route);
    const t = rt?.byArm.get(arm);
    if (!rt || !t) return null;
    const r: GuardReadings = t.guard.readings(this.opts.clock.now());
    return { guardrail: { phase: t.phase, verdict: t.last, ...r } };
  }
}
