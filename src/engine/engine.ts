import type { Logger } from 'pino';
import { DEFAULT_LATENCY_MEASURE } from '../config/defaults.js';
import type { Config } from '../config/types.js';
import type { HeaderList } from '../extproc/handler.js';
import { DECISION_REASONS, REWARD_SOURCES, statusClass, type DecisionReason, type Metrics, type RewardSource } from '../metrics/metrics.js';
import type { CounterHandle, HistogramHandle } from '../metrics/fast-metrics.js';
import { propensitiesWithFloor } from '../policy/floor.js';
import type { ArmStats } from '../policy/types.js';
import { computeReward } from '../reward/compute.js';
import { classifyExchange, scoredLatencyMs, simpleExchange, type Exchange, type FailureReason } from '../reward/outcome.js';
import { DecisionIdCodec } from '../reward/decision-id.js';
import { routeShapes, type ReplicaState } from '../state/replica-state.js';
import type { Clock } from '../util/clock.js';
import type { Rng } from '../util/rng.js';
import { guardKey, manualKey, type RouteMode } from '../state/records.js';
import { randomBytes } from 'node:crypto';
import { PinCodec } from '../sticky/pin.js';
import { RouteEligibility, UNTIL_RELEASED, type FlagInForce } from './eligibility.js';
import { DecisionContext, DecisionPipeline, type PlannedRoute, type RoutePlan, fillPolicyInput, incumbentArm, standardSteps, type DecisionStep } from './pipeline.js';
import { RouteRuntime } from './route-runtime.js';
import type { SloCounts } from '../slo/budget.js';

export { PROBATION_MAX_TOTAL_SHARE, PROBATION_MIN_SHARE, UNTIL_RELEASED } from './eligibility.js';
export { FORCE_ARM_HEADER } from './pipeline.js';
/** Who a record is attributed to when the caller names nobody. */
export const ANONYMOUS = 'anonymous';

const REASON_INDEX = Object.fromEntries(DECISION_REASONS.map((r, i) => [r, i])) as Record<DecisionReason, number>;
const SOURCE_INDEX = Object.fromEntries(REWARD_SOURCES.map((r, i) => [r, i])) as Record<RewardSource, number>;

/** Per-route metric series (indexes: arm × reason, arm, arm × source), filled on first use. */
interface RouteMetricHandles {
  decisions: Array<CounterHandle | undefined>;
  duration: HistogramHandle;
  upstream: Array<HistogramHandle | undefined>;
  rewards: Array<CounterHandle | undefined>;
  rewardSum: Array<{ sum: number; count: number } | undefined>;
}
/** Propensities (Thompson's are Monte-Carlo estimates) are recomputed at most this often per route. */
export const PROPENSITY_REFRESH_MS = 250;

export interface Decision {
  id: string;
  route: PlannedRoute;
  arm: number;
  /** The arm's name and Envoy cluster (`route.armNames[arm]`, `route.clusters[arm]`). */
  armName: string;
  cluster: string;
  reason: DecisionReason;
  /** Epoch ms (injected clock). */
  time: number;
  /** Monotonic ms at the decision, for the sidecar's own latency measurement. */
  startedAt: number;
  /** Probability this arm had of being chosen, when known (decision log). */
  propensity: number | undefined;
  /** Contextual routes: the header values the features read (the reward learns with them; the decision log records them). */
  context: Readonly<Record<string, string>> | undefined;
  /** Sticky session hash (0: none, or the route is not sticky). */
  session: number;
  /** The client's echoed pin, when valid, fresh and for this arm (sent back unchanged). */
  echoedPin: string | undefined;
}

export interface Outcome {
  /** Final HTTP status (0: none reached the client). */
  status: number;
  /** The latency the route scores (reward.latency.measure: time to first byte or total). */
  latencyMs: number;
  /** `grpc-status` from trailers or a trailers-only response (guardrail blame reads it); undefined when none. */
  grpcStatus: number | undefined;
  /** '' when the exchange earned a reward, else why it failed (classifyExchange; guardrails blame with isArmError). */
  failure: FailureReason;
  /** Everything observed about the exchange. */
  exchange: Exchange;
  reward: number;
  /** The reward went into the statistics now (not frozen, not waiting for feedback). */
  recorded: boolean;
  source: RewardSource;
}

/** A reward that went into this replica's statistics. */
export interface RewardEvent {
  decisionId: string;
  route: string;
  arm: string;
  reward: number;
  source: RewardSource;
  /** Epoch ms it was applied. */
  time: number;
}

/** Hooks other modules attach to (decision log, aggregator stream, guardrails, feedback). */
export interface EngineObserver {
  /** The observer reads `Decision.propensity` (the decision log): the engine computes it while such an observer is attached. */
  readonly propensities?: boolean;
  onDecision?(d: Decision): void;
  /** Every response outcome, whether or not it was recorded (guardrails read status and latency here). */
  onOutcome?(d: Decision, o: Outcome): void;
  /** Every reward applied to the statistics, from any source (aggregator stream, decision log). */
  onReward?(e: RewardEvent): void;
  /**
   * Returns true when the observer takes over learning for this decision
   * (delayed feedback holds a successful response until its feedback arrives).
   */
  deferReward?(d: Decision, o: Outcome): boolean;
}

export interface EngineOptions {
  config: Config;
  /** Built with routeShapes(config): the engine reads it as the config lays routes out. */
  state: ReplicaState;
  rng: Rng;
  clock: Clock;
  /** Monotonic clock in ms for latency (performance.now by default). */
  monotonic?: () => number;
  metrics: Metrics | null;
  logger: Logger | null;
  ids: DecisionIdCodec;
  /** Compute `Decision.propensity` for every decision (also switched on by an observer with `propensities: true`). */
  propensities?: boolean;
  /**
   * The decision steps, given the standard ones in order (paused → forced →
   * all-quarantined → sticky → probation → policy); insert or replace by name.
   */
  steps?: (standard: readonly DecisionStep[]) => readonly DecisionStep[];
  /** Signs sticky pins; a fleet shares its key (derived from the decision-id secret). Random when absent. */
  pins?: PinCodec;
}

/**
 * route → policy → guardrail eligibility → decision, and response → reward →
 * statistics. The ext_proc adapter, the simulator and the admin API all drive
 * this one class, so simulated and live decisions run the same code.
 */
export class Engine {
  routes: PlannedRoute[] = [];
  private byName = new Map<string, PlannedRoute>();
  private readonly observers: EngineObserver[] = [];
  private readonly scratch: ArmStats = { n: 0, sum: 0, sumSq: 0 };
  private readonly monotonic: () => number;
  private readonly pipeline: DecisionPipeline;
  private readonly ctx = new DecisionContext();
  private propensityBuf = new Float64Array(0);
  private readonly propCache = new Map<RouteRuntime, { at: number; shares: Float64Array }>();
  private wantPropensity: boolean;
  private readonly pins: PinCodec;
  config: Config;

  constructor(private readonly opts: EngineOptions) {
    this.config = opts.config;
    this.monotonic = opts.monotonic ?? (() => performance.now());
    this.wantPropensity = opts.propensities ?? false;
    this.pins = opts.pins ?? new PinCodec(randomBytes(32));
    const standard = standardSteps({ state: opts.state, rng: opts.rng, shares: (r, now) => this.shares(r, now), metrics: opts.metrics });
    this.pipeline = new DecisionPipeline(opts.steps ? opts.steps(standard) : standard, opts.state);
    this.build(opts.config);
  }

  get state(): ReplicaState {
    return this.opts.state;
  }
  get clock(): Clock {
    return this.opts.clock;
  }
  get metricsOrNull(): Metrics | null {
    return this.opts.metrics;
  }
  get ids(): DecisionIdCodec {
    return this.opts.ids;
  }
  /** Whether decisions carry a propensity (an option, or an observer that reads them). */
  get needPropensity(): boolean {
    return this.wantPropensity;
  }
  /** The decision steps in the order they run. */
  get steps(): readonly DecisionStep[] {
    return this.pipeline.steps;
  }
  /** The steps that run for `route` (those that apply to it), in order. */
  stepsFor(route: PlannedRoute): readonly DecisionStep[] {
    return this.pipeline.plan(route).steps;
  }

  observe(o: EngineObserver): void {
    this.observers.push(o);
    if (o.propensities) this.wantPropensity = true;
  }

  route(name: string): PlannedRoute | undefined {
    return this.byName.get(name);
  }

  /** The route's metric series, created on first use (a route is rebuilt on reload, and so are these). */
  private handles(route: RouteRuntime, m: Metrics): RouteMetricHandles {
    return (route.metricHandles ??= {
      decisions: [],
      duration: m.decisionDuration.handle({ route: route.name }),
      upstream: [],
      rewards: [],
      rewardSum: [],
    }) as RouteMetricHandles;
  }

  /** Applies a new config; learned state is kept for routes and arms that remain. */
  reload(config: Config): void {
    const previous = new Map(this.routes.map((r) => [r.name, r]));
    this.config = config;
    this.opts.state.reconfigure(routeShapes(config));
    this.build(config);
    const now = this.opts.clock.now();
    for (const r of this.routes) {
      const old = previous.get(r.name);
      // Sessions keep their arms across a reload (arms that remain, by name).
      if (old?.sticky && r.sticky) r.sticky.adopt(old.sticky, now);
    }
  }

  /**
   * Brings a route's mode and reset epoch up to the fleet's records (an int
   * compare when nothing changed). A reset seen for the first time clears
   * this replica's sticky sessions for the route.
   */
  syncRecords(route: RouteRuntime): void {
    const state = this.opts.state;
    if (route.recordsVersion === state.flagsVersion) return;
    route.recordsVersion = state.flagsVersion;
    route.mode = state.modeOf(route.name);
    const reset = state.resetOf(route.name);
    const epoch = reset ? `${reset.ms}.${reset.c}@${reset.r}` : '';
    if (epoch !== route.resetEpoch) {
      if (route.resetEpoch !== null) route.sticky?.clear();
      route.resetEpoch = epoch;
    }
    this.propCache.delete(route);
  }

  private build(config: Config): void {
    const state = this.opts.state;
    // The SLO budget reads the fleet's outcome tally (our slot plus every peer's), so the burn is fleet-wide.
    const sloCounts = (name: string): SloCounts => ({
      record: (success) => {
        const ri = state.routeIndex(name);
        if (ri !== undefined) state.recordOutcome(ri, success);
      },
      countInto: (now, span, out) => {
        const ri = state.routeIndex(name);
        if (ri !== undefined) state.sloCountInto(ri, now, span, out);
      },
    });
    // Contextual models live in the replica state (they survive a reload with the same features there).
    this.routes = config.routes.map((rc) => new RouteRuntime<RoutePlan>(rc, this.pins, sloCounts(rc.name)));
    this.byName = new Map(this.routes.map((r) => [r.name, r]));
    this.propCache.clear();
    const maxArms = Math.max(1, ...this.routes.map((r) => r.armNames.length));
    this.propensityBuf = new Float64Array(maxArms);
  }

  match(headers: HeaderList): PlannedRoute | undefined {
    for (const r of this.routes) if (r.matches(headers)) return r;
    return undefined;
  }

  /** The decision for a request on `route` (the steps, in order). Never throws: internal errors fall back to the default arm. */
  decide(route: PlannedRoute, headers: HeaderList | null): Decision {
    const t0 = this.monotonic();
    const now = this.opts.clock.now();
    this.syncRecords(route);
    const ctx = this.ctx.begin(route, headers, now);
    let arm: number;
    let reason: DecisionReason;
    let failed = false;
    try {
      this.pipeline.run(ctx);
      arm = ctx.arm;
      reason = ctx.reason;
    } catch (err) {
      this.opts.logger?.error({ err, route: route.name }, 'decision failed; using the default arm');
      this.opts.metrics?.extprocErrors.inc({ kind: 'decision' });
      arm = route.defaultArm;
      reason = 'fallback';
      failed = true;
    }
    ctx.headers = null;
    const armName = route.armNames[arm] ?? '';
    const d: Decision = {
      context: route.contextual ? route.contextual.contextRecord(headers) : undefined,
      id: this.opts.ids.issue(route.name, armName, now, route.config.reward.feedback !== null),
      route,
      arm,
      armName,
      cluster: route.clusters[arm] ?? '',
      reason,
      time: now,
      startedAt: t0,
      propensity: this.wantPropensity ? this.propensityOf(route, arm, reason, now) : undefined,
      session: failed ? 0 : ctx.session,
      echoedPin: failed ? undefined : ctx.echoedPin,
    };
    const m = this.opts.metrics;
    if (m) {
      const h = this.handles(route, m);
      const i = arm * DECISION_REASONS.length + REASON_INDEX[reason];
      (h.decisions[i] ??= m.decisions.handle({ route: route.name, arm: armName, reason })).value++;
      h.duration.observe((this.monotonic() - t0) / 1000);
    }
    for (const o of this.observers) o.onDecision?.(d);
    return d;
  }

  /** The pin to send back with a decision's response, or undefined (no session, pins off, or not a sticky decision). */
  pinFor(d: Decision): [header: string, pin: string] | undefined {
    const sticky = d.route.sticky;
    const header = sticky?.cfg.pin_header;
    if (d.session === 0 || !sticky || header === null || header === undefined) return undefined;
    if (d.reason !== 'sticky' && d.reason !== 'policy') return undefined;
    return [header, sticky.pinFor(d.session, d.arm, d.echoedPin, this.opts.clock.now())];
  }

  /**
   * Puts an arm in (or out of) guardrail probation (eligibility.ts rule 4).
   * Returns false for an unknown route or arm.
   */
  setProbation(routeName: string, armName: string, on: boolean): boolean {
    const r = this.byName.get(routeName);
    const a = r?.armIndex.get(armName);
    if (!r || a === undefined) return false;
    if (r.eligibility.setProbation(a, on)) this.propCache.delete(r);
    return true;
  }

  /** The quarantine flags in force for an arm on this replica (eligibility.ts rule 2). */
  quarantineFlags(route: RouteRuntime, arm: number, now: number): FlagInForce[] {
    return route.eligibility.flagsInForce(this.opts.state, arm, now);
  }

  /** Brings the route's eligibility up to date (cached until a flag can change). */
  refreshEligibility(route: RouteRuntime, now: number): void {
    route.eligibility.refresh(this.opts.state, now);
  }

  /**
   * Traffic share per configured arm (0 for ineligible ones), including the
   * floor and probation slices. A contextual route's shares depend on the
   * request: here they are for a request without features (the intercept
   * alone), never cached.
   */
  shares(route: RouteRuntime, now = this.opts.clock.now()): Float64Array {
    if (route.contextual) {
      const ri = this.opts.state.routeIndex(route.name);
      if (ri !== undefined) route.contextual.sync(this.opts.state, ri, now);
      route.contextual.setContext(null);
      return this.computeShares(route, now);
    }
    const cached = this.propCache.get(route);
    if (cached && now - cached.at < PROPENSITY_REFRESH_MS && cached.at <= now) return cached.shares;
    const shares = this.computeShares(route, now);
    this.propCache.set(route, { at: now, shares });
    return shares;
  }

  /** Shares for the context currently set on a contextual route's policy (any route: as `shares`, uncached). */
  private computeShares(route: RouteRuntime, now: number): Float64Array {
    const shares = new Float64Array(route.armNames.length);
    this.syncRecords(route);
    const e = route.eligibility;
    e.refresh(this.opts.state, now);
    if (route.mode === 'paused' || e.eligibleCount === 0) {
      shares[route.defaultArm] = 1;
    } else {
      const probing = e.probing();
      fillPolicyInput(route, this.opts.state, probing > 0, this.scratch);
      const out = this.propensityBuf;
      propensitiesWithFloor(route.policy, route.input, route.config.policy.min_share, out);
      const slice = probing > 0 ? RouteEligibility.probationSlice(route.config.policy.min_share, probing) : 0;
      const rest = 1 - probing * slice;
      for (let p = 0; p < route.input.k; p++) shares[route.input.armIndex[p] ?? 0] = (out[p] ?? 0) * rest;
      if (probing > 0) for (let a = 0; a < shares.length; a++) if (e.eligible[a] && e.probation[a]) shares[a] = slice;
      const scale = route.slo?.explorationScale(now) ?? 1;
      if (scale < 1) {
        for (let a = 0; a < shares.length; a++) shares[a] = (shares[a] ?? 0) * scale;
        const inc = incumbentArm(route, this.opts.state, this.scratch);
        shares[inc] = (shares[inc] ?? 0) + (1 - scale);
      }
    }
    return shares;
  }

  private propensityOf(route: RouteRuntime, arm: number, reason: DecisionReason, now: number): number {
    if (reason !== 'policy') return 1;
    // A contextual route's policy still holds the decided request's context (the context step set it).
    return (route.contextual ? this.computeShares(route, now) : this.shares(route, now))[arm] ?? 0;
  }

  /** A plain response (status, time since the decision unless given): see onExchange. */
  onResponse(d: Decision, status: number, rewardHeader: string | undefined, latencyMs?: number): Outcome {
    return this.onExchange(d, simpleExchange(status, latencyMs ?? this.monotonic() - d.startedAt, rewardHeader));
  }

  /** Monotonic ms since the decision was made (an exchange that ended without a response is scored at this). */
  elapsedMs(d: Decision): number {
    return this.monotonic() - d.startedAt;
  }

  /** Turns a finished exchange into a reward and (unless frozen or deferred) into statistics. */
  onExchange(d: Decision, ex: Exchange): Outcome {
    const route = d.route;
    const cfg = route.config.reward;
    const failure = classifyExchange(route.success, ex);
    const latency = scoredLatencyMs(cfg.latency?.measure ?? DEFAULT_LATENCY_MEASURE, ex);
    const reward = computeReward(cfg, failure !== '', {
      latencyMs: latency,
      rewardHeader: ex.rewardHeader,
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- d.arm indexes the route it was decided on (costs has one entry per arm)
      cost: route.costs[d.arm]!,
      maxCost: route.maxCost,
    });
    const outcome: Outcome = { status: ex.status, grpcStatus: ex.grpcStatus, latencyMs: latency, failure, exchange: ex, reward, recorded: false, source: 'response' };
    let deferred = false;
    route.slo?.record(failure === '', this.opts.clock.now());
    for (const o of this.observers) if (o.deferReward?.(d, outcome)) deferred = true;
    if (!deferred) outcome.recorded = this.applyRewardByName(route.name, d.armName, reward, 'response', d.id, d.context);
    const m = this.opts.metrics;
    if (m) {
      const h = this.handles(route, m);
      (h.upstream[d.arm] ??= m.upstreamLatency.handle({ route: route.name, arm: d.armName })).observe(latency / 1000);
      m.responses.inc({ route: route.name, arm: d.armName, class: statusClass(ex.status) });
    }
    for (const o of this.observers) o.onOutcome?.(d, outcome);
    return outcome;
  }

  /**
   * Adds a reward to this replica's slot. Resolves the route and arm by name so
   * a reward for a decision made before a reload lands on the right arm (or is
   * dropped if the arm is gone). Returns whether it was recorded. A
   * contextual route's models learn only when the decision's context is given.
   */
  applyRewardByName(
    routeName: string,
    armName: string,
    reward: number,
    source: RewardSource,
    decisionId: string,
    context?: Readonly<Record<string, string>>,
  ): boolean {
    const current = this.byName.get(routeName);
    if (!current) return false;
    this.syncRecords(current);
    if (current.mode === 'frozen') return false;
    const arm = current.armIndex.get(armName);
    const ri = this.opts.state.routeIndex(routeName);
    if (arm === undefined || ri === undefined) return false;
    const state = this.opts.state;
    const c = current.contextual;
    if (c && context) {
      // Sync first: a rebuild after this reward's own record would count it twice in the cached model.
      const now = this.opts.clock.now();
      c.sync(state, ri, now);
      c.setContextRecord(context);
      state.record(ri, arm, reward);
      state.recordLinear(ri, arm, c.ctx.x, c.ctx.nz, c.ctx.nnz, reward);
      c.observe(arm, reward, now);
    } else {
      state.record(ri, arm, reward);
    }
    const m = this.opts.metrics;
    if (m) {
      const h = this.handles(current, m);
      const i = arm * REWARD_SOURCES.length + SOURCE_INDEX[source];
      (h.rewards[i] ??= m.rewards.handle({ route: routeName, arm: armName, source })).value++;
      const sc = (h.rewardSum[i] ??= m.rewardSum.handle({ route: routeName, arm: armName, source }));
      sc.sum += reward;
      sc.count++;
    }
    if (this.observers.length) {
      const e: RewardEvent = { decisionId, route: routeName, arm: armName, reward, source, time: this.opts.clock.now() };
      for (const o of this.observers) o.onReward?.(e);
    }
    return true;
  }

  // ---- operator actions (admin API, guardrails) ----
  // Each writes a fleet record (state/records.ts): in force here at once and
  // on every replica within a few gossip rounds; `who` is kept for the audit.

  setMode(routeName: string, mode: RouteMode, who = ANONYMOUS): boolean {
    const r = this.byName.get(routeName);
    if (!r) return false;
    this.opts.state.write({ kind: 'mode', route: routeName, mode }, who);
    this.syncRecords(r);
    return true;
  }

  /** Starts the route's statistics over on every replica (a reset epoch: older slot stats stop counting). */
  reset(routeName: string, who = ANONYMOUS): boolean {
    const r = this.byName.get(routeName);
    if (!r || this.opts.state.routeIndex(routeName) === undefined) return false;
    this.opts.state.write({ kind: 'reset', route: routeName }, who);
    this.syncRecords(r);
    return true;
  }

  /**
   * Quarantines an arm fleet-wide (eligibility.ts rule 1). Without `until` it
   * is an operator's quarantine that lasts until released; with one it is a
   * guardrail trip (or a timed quarantine) that ends at `until`.
   */
  quarantineArm(routeName: string, armName: string, rule: string, until = UNTIL_RELEASED, who = ANONYMOUS): boolean {
    const r = this.byName.get(routeName);
    if (!r || !r.armIndex.has(armName)) return false;
    const state = this.opts.state;
    if (until === UNTIL_RELEASED) state.write({ kind: 'manual', route: routeName, arm: armName, state: 'quarantined' }, who);
    else state.write({ kind: 'guard', route: routeName, arm: armName, state: 'quarantined', rule, until }, who);
    this.propCache.delete(r);
    return true;
  }

  /**
   * Releases an arm fleet-wide (eligibility.ts rule 3): supersedes every
   * quarantine of it raised before now on any replica (including one since
   * replaced); a later guardrail trip still counts.
   */
  releaseArm(routeName: string, armName: string, who = ANONYMOUS): boolean {
    const r = this.byName.get(routeName);
    const a = r?.armIndex.get(armName);
    if (!r || a === undefined) return false;
    const state = this.opts.state;
    if (state.recordOf(manualKey(routeName, armName))) state.write({ kind: 'manual', route: routeName, arm: armName, state: 'released' }, who);
    if (state.recordOf(guardKey(routeName, armName))) state.write({ kind: 'guard', route: routeName, arm: armName, state: 'released', rule: 'manual', until: 0 }, who);
    r.eligibility.release(a, this.opts.clock.now());
    this.propCache.delete(r);
    return true;
  }

  /** Posterior mean and samples per arm (fleet view), for /v1/routes and gauges. */
  armSummary(route: RouteRuntime): Array<{ arm: string; stats: ArmStats; mean: number; params: Record<string, number> }> {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- every configured route has a state index (state.reconfigure(routeShapes(config)))
    const ri = this.opts.state.routeIndex(route.name)!;
    return route.armNames.map((arm, a) => {
      const stats = this.opts.state.fleet(ri, a, { n: 0, sum: 0, sumSq: 0 });
      const params = route.policy.describe?.(stats) ?? {};
      const mean = params.mean ?? (stats.n > 0 ? stats.sum / stats.n : 0);
      return { arm, stats, mean, params };
    });
  }
}

