import type { Logger } from 'pino';
import type { Metrics } from '../admin/metrics.js';
import { registerArmReadings } from '../admin/route-info.js';
import type { Config, GuardrailsConfig } from '../config/types.js';
import type { Decision, Engine, EngineObserver, Outcome } from '../engine/engine.js';
import type { RouteRuntime } from '../engine/route-runtime.js';
import { nextGuardPhase, type GuardPhase } from '../engine/eligibility.js';
import type { Clock } from '../util/clock.js';
import { ArmGuard, type GuardReadings } from './arm-guard.js';
import { isArmError } from './blame.js';
import type { RuleReading, Verdict } from './verdict.js';

/** Every arm is evaluated this often by the timer. */
export const EVAL_INTERVAL_MS = 250;
/** An outcome re-evaluates its arm at most this often, so trips are fast at high rps without per-request cost. */
export const EAGER_EVAL_MIN_MS = 100;
/** Each failed probation doubles the next cooldown, up to this factor. */
export const MAX_BACKOFF_FACTOR = 8;

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
}

interface RouteTrack {
  readonly name: string;
  cfg: GuardrailsConfig;
  arms: ArmTrack[];
  byArm: Map<string, ArmTrack>;
}

export interface GuardrailsOptions {
  engine: Engine;
  clock: Clock;
  metrics: Metrics | null;
  logger: Logger | null;
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
    registerArmReadings(opts.engine, (route, arm) => this.readings(route, arm));
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
      if (!rc.guardrails) continue;
      const prev = old.get(rc.name);
      const same = prev !== undefined && JSON.stringify(prev.cfg) === JSON.stringify(rc.guardrails);
      const arms = rc.arms.map((a): ArmTrack => {
        const p = prev?.byArm.get(a.name);
        if (p && same) return p;
        const guard = new ArmGuard(rc.guardrails!);
        if (p) return { ...p, guard, last: null };
        return { arm: a.name, guard, phase: 'active', flagUntil: 0, alerted: false, failures: 0, lastEval: Number.NEGATIVE_INFINITY, last: null };
      });
      this.routes.set(rc.name, { name: rc.name, cfg: rc.guardrails, arms, byArm: new Map(arms.map((t) => [t.arm, t])) });
    }
  }

  onOutcome(d: Decision, o: Outcome): void {
    const rt = this.routes.get(d.route.name);
    const t = rt?.byArm.get(d.route.armNames[d.arm]!);
    if (!rt || !t) return;
    const now = this.opts.clock.now();
    t.guard.record(now, isArmError(o, rt.cfg), o.latencyMs);
    if (now - t.lastEval >= EAGER_EVAL_MIN_MS) this.evaluateArm(rt, t, now);
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
    if (v.kind === 'inconclusive') return;
    if (t.phase === 'probation') {
      if (v.kind === 'pass') this.release(rt, t, v);
      else this.trip(rt, t, v, now);
      return;
    }
    if (v.kind === 'fail') {
      this.trip(rt, t, v, now);
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
        if (t.phase !== 'quarantined') this.enterQuarantine(rt, t, until);
        else t.flagUntil = Math.max(t.flagUntil, until);
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

  private enterQuarantine(rt: RouteTrack, t: ArmTrack, until: number): void {
    if (t.phase === 'probation') this.opts.engine.setProbation(rt.name, t.arm, false);
    t.guard.endProbation();
    t.guard.dropWindow();
    t.phase = 'quarantined';
    t.flagUntil = until;
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
    this.opts.engine.quarantineArm(rt.name, t.arm, v.rule, until);
    this.enterQuarantine(rt, t, until);
    this.opts.logger?.warn(fields, 'guardrail trip; arm quarantined');
  }

  private release(rt: RouteTrack, t: ArmTrack, v: Extract<Verdict, { kind: 'pass' }>): void {
    const engine = this.opts.engine;
    engine.setProbation(rt.name, t.arm, false);
    // Our own flag (if it was ours) has expired; take it out of the slot we gossip.
    engine.state.clearFlag(rt.name, t.arm);
    t.guard.endProbation();
    t.phase = 'active';
    t.failures = 0;
    this.opts.logger?.info({ route: rt.name, arm: t.arm, samples: v.samples }, 'guardrail release: arm passed probation');
  }

  private readings(route: string, arm: string): Record<string, unknown> | null {
    const rt = this.routes.get(route);
    const t = rt?.byArm.get(arm);
    if (!rt || !t) return null;
    const r: GuardReadings = t.guard.readings(this.opts.clock.now());
    return { guardrail: { phase: t.phase, verdict: t.last, ...r } };
  }
}
