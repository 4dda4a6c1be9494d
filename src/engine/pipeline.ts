/**
 * The decision as an ordered list of named steps, in the way the Gateway API
 * Inference Extension's endpoint picker runs named plugins in a fixed order:
 * each step either decides (an arm and a reason) or passes to the next one.
 *
 *   paused → forced → all-quarantined → sticky → context → budget → probation → policy (+ floor)
 *
 * Eligibility is refreshed once before the first step, so every step sees the
 * same view of which arms may be chosen. Once a step has decided, every step
 * that ran gets `settle` in order (sticky pins the policy's choice there).
 *
 * A step is allocation-free on the hot path: it reads the shared, reused
 * `DecisionContext` and answers through `ctx.choose(arm, reason)`. New steps
 * (fleet-wide stickiness, contextual policies) are inserted or swapped by name
 * through `EngineOptions.steps`; they see the request headers on the context
 * and derive any request features from them.
 */
import type { DecisionReason, Metrics } from '../metrics/metrics.js';
import type { HeaderList } from '../extproc/handler.js';
import { chooseWithFloor } from '../policy/floor.js';
import type { ArmStats } from '../policy/types.js';
import type { ReplicaState } from '../state/replica-state.js';
import type { Rng } from '../util/rng.js';
import { RouteEligibility } from './eligibility.js';
import type { RouteRuntime } from './route-runtime.js';

export const FORCE_ARM_HEADER = 'x-bandit-force-arm';

/** A route as the engine holds it: with the pipeline's plan for it. */
export type PlannedRoute = RouteRuntime<RoutePlan>;

/** Per-decision scratch, one per engine, reset by `begin` for each request. */
export class DecisionContext {
  route!: PlannedRoute;
  /** The request headers (null when a caller decides without a request, e.g. the simulator). */
  headers: HeaderList | null = null;
  /** Epoch ms (injected clock). */
  now = 0;
  /** The decided arm (configured index), -1 until a step decides. */
  arm = -1;
  reason: DecisionReason = 'policy';
  /** The sticky session's hash (0: none). */
  session = 0;
  /** The client's echoed pin, when valid, fresh and for the decided arm (sent back unchanged). */
  echoedPin: string | undefined = undefined;
  /** Probation arms taking a slice this decision (set by the probation step; the policy step leaves them out). */
  probing = 0;

  begin(route: PlannedRoute, headers: HeaderList | null, now: number): this {
    this.route = route;
    this.headers = headers;
    this.now = now;
    this.arm = -1;
    this.reason = 'policy';
    this.session = 0;
    this.echoedPin = undefined;
    this.probing = 0;
    return this;
  }

  /** A step's decision; returns true so a step can `return ctx.choose(...)`. */
  choose(arm: number, reason: DecisionReason): true {
    this.arm = arm;
    this.reason = reason;
    return true;
  }
}

export interface DecisionStep {
  readonly name: string;
  /** Decides (`return ctx.choose(arm, reason)`) or passes to the next step (`return false`). */
  run(ctx: DecisionContext): boolean;
  /** Called in order on every step that ran, once some step has decided (`ctx.arm`, `ctx.reason`). */
  settle?(ctx: DecisionContext): void;
  /**
   * Whether the step can act on this route at all (checked once per route and
   * (re)load; omitted = always). A step that cannot is left out of the route's
   * plan, so it costs nothing per decision.
   */
  appliesTo?(route: RouteRuntime): boolean;
}

/** The steps that apply to one route, in order; built at (re)load. */
export class RoutePlan {
  readonly steps: readonly DecisionStep[];
  // The steps' functions, bound, in plain arrays: one indirect call per step
  // and no property lookup on differently shaped step objects per decision.
  private readonly runs: ReadonlyArray<(ctx: DecisionContext) => boolean>;
  private readonly settles: ReadonlyArray<(ctx: DecisionContext) => void>;
  /** Position in `steps` of each entry of `settles`, ascending. */
  private readonly settlePos: Int32Array;

  constructor(all: readonly DecisionStep[], route: RouteRuntime) {
    this.steps = all.filter((s) => s.appliesTo?.(route) ?? true);
    this.runs = this.steps.map((s) => s.run.bind(s));
    const settling = this.steps.flatMap((s, i) => (s.settle ? [{ i, fn: s.settle.bind(s) }] : []));
    this.settles = settling.map((x) => x.fn);
    this.settlePos = Int32Array.from(settling.map((x) => x.i));
  }

  run(ctx: DecisionContext): void {
    const runs = this.runs;
    const n = runs.length;
    let decidedAt = n;
    for (let i = 0; i < n; i++) {
      const run = runs[i];
      if (run !== undefined && run(ctx)) {
        decidedAt = i;
        break;
      }
    }
    if (decidedAt === n) ctx.choose(ctx.route.defaultArm, 'fallback');
    const settles = this.settles;
    for (let j = 0; j < settles.length; j++) {
      if ((this.settlePos[j] ?? n) > decidedAt) break;
      settles[j]?.(ctx);
    }
  }
}

/** What the standard steps read besides the context. */
export interface StepDeps {
  state: ReplicaState;
  rng: Rng;
  /** The route's traffic shares (the engine's propensities, cached): the sticky step's first assignment. */
  shares: (route: RouteRuntime, now: number) => ArrayLike<number>;
  metrics: Metrics | null;
}

/** Paused routes send everything to the default arm. */
export const pausedStep: DecisionStep = {
  name: 'paused',
  run: (ctx) => ctx.route.mode === 'paused' && ctx.choose(ctx.route.defaultArm, 'paused'),
};

/** `x-bandit-force-arm` (when the route allows it) picks an eligible arm by name. */
export const forcedStep: DecisionStep = {
  name: 'forced',
  appliesTo: (route) => route.config.allow_force_arm,
  run(ctx) {
    const route = ctx.route;
    if (!ctx.headers || !route.config.allow_force_arm) return false;
    const forced = ctx.headers.get(FORCE_ARM_HEADER);
    const idx = forced === undefined ? undefined : route.armIndex.get(forced);
    return idx !== undefined && route.eligibility.eligible[idx] === 1 && ctx.choose(idx, 'forced');
  },
};

/** No eligible arm: the default arm (contract; see eligibility.ts rule 5). */
export const allQuarantinedStep: DecisionStep = {
  name: 'all-quarantined',
  run: (ctx) => ctx.route.eligibility.eligibleCount === 0 && ctx.choose(ctx.route.defaultArm, 'quarantine'),
};

/**
 * Fleet-wide stickiness (docs/sticky-sessions.md): an echoed signed pin, else
 * this replica's session table, else the first assignment every replica
 * computes alike — weighted rendezvous over the route's shares (probation
 * slices and the floor included, ineligible arms at 0). A pinned arm that is
 * no longer eligible is re-assigned the same way.
 */
export function stickyStep({ shares, metrics }: Pick<StepDeps, 'shares' | 'metrics'>): DecisionStep {
  return {
    name: 'sticky',
    appliesTo: (route) => route.sticky !== null,
    run(ctx) {
      const route = ctx.route;
      const sticky = route.sticky;
      if (!ctx.headers || !sticky) return false;
      const l = sticky.read(ctx.headers, ctx.now);
      if (l.session === 0) {
        if (l.tooLong) metrics?.stickyLookups.inc({ route: route.name, outcome: 'key_too_long' });
        return false;
      }
      ctx.session = l.session;
      const eligible = route.eligibility.eligible;
      if (l.pinnedArm >= 0 && eligible[l.pinnedArm] === 1) {
        sticky.set(l.session, l.pinnedArm, ctx.now);
        ctx.echoedPin = l.freshPin;
        metrics?.stickyLookups.inc({ route: route.name, outcome: 'pin' });
        return ctx.choose(l.pinnedArm, 'sticky');
      }
      const pinHeader = sticky.cfg.pin_header;
      if (l.pinnedArm < 0 && pinHeader !== null && ctx.headers.get(pinHeader) !== undefined) {
        metrics?.stickyLookups.inc({ route: route.name, outcome: 'pin_invalid' });
      }
      const known = sticky.get(l.session, ctx.now);
      if (known >= 0 && eligible[known] === 1) {
        metrics?.stickyLookups.inc({ route: route.name, outcome: 'local' });
        return ctx.choose(known, 'sticky');
      }
      const arm = sticky.assign(l.session, shares(route, ctx.now));
      if (arm < 0) return false;
      sticky.set(l.session, arm, ctx.now);
      metrics?.stickyLookups.inc({ route: route.name, outcome: 'assigned' });
      return ctx.choose(arm, 'policy');
    },
  };
}

/**
 * Contextual routes (linucb, lints): brings the route's cached models up to
 * the fleet's statistics (a rebuild only after a merge, reset or decay step),
 * then extracts this request's features from its headers onto the route's
 * policy, so the probation and policy steps — and the propensity the engine
 * computes after — read them. Never decides.
 */
export function contextStep({ state }: Pick<StepDeps, 'state'>): DecisionStep {
  return {
    name: 'context',
    appliesTo: (route) => route.contextual !== null,
    run(ctx) {
      const c = ctx.route.contextual;
      if (!c) return false;
      const ri = state.routeIndex(ctx.route.name);
      if (ri !== undefined) c.sync(state, ri, ctx.now);
      c.setContext(ctx.headers);
      return false;
    },
  };
}

/**
 * The incumbent: the eligible arm with the best fleet mean reward (the
 * default arm, when eligible, while no eligible arm has evidence).
 */
export function incumbentArm(route: RouteRuntime, state: ReplicaState, scratch: ArmStats): number {
  const ri = state.routeIndex(route.name);
  const e = route.eligibility;
  let best = -1;
  let bestMean = -Infinity;
  if (ri !== undefined) {
    for (let a = 0; a < route.armNames.length; a++) {
      if (e.eligible[a] !== 1) continue;
      const s = state.fleet(ri, a, scratch);
      if (s.n > 0 && s.sum / s.n > bestMean) {
        bestMean = s.sum / s.n;
        best = a;
      }
    }
  }
  if (best >= 0) return best;
  if (e.eligible[route.defaultArm] === 1) return route.defaultArm;
  for (let a = 0; a < route.armNames.length; a++) if (e.eligible[a] === 1) return a;
  return route.defaultArm;
}

/**
 * Routes with an SLO: as the error budget burns, exploration shrinks. With
 * probability 1 − scale (slo/budget.ts) the decision goes to the incumbent
 * before probation probes and the policy (with its floor) are consulted; at
 * scale 0 no non-incumbent arm is explored. Guardrails act on their own.
 */
export function budgetStep({ state, rng }: StepDeps): DecisionStep {
  const scratch: ArmStats = { n: 0, sum: 0, sumSq: 0 };
  return {
    name: 'budget',
    appliesTo: (route) => route.slo !== null,
    run(ctx) {
      const scale = ctx.route.slo?.explorationScale(ctx.now) ?? 1;
      if (scale >= 1 || rng.next() < scale) return false;
      return ctx.choose(incumbentArm(ctx.route, state, scratch), 'policy');
    },
  };
}

/** Probation arms take their fixed slice outside the policy (eligibility.ts rule 4). Reason `policy`: it is the route's split. */
export function probationStep(rng: Rng): DecisionStep {
  return {
    name: 'probation',
    run(ctx) {
      const e = ctx.route.eligibility;
      const probing = e.probing();
      ctx.probing = probing;
      if (probing === 0) return false;
      const pick = e.pickProbation(RouteEligibility.probationSlice(ctx.route.config.policy.min_share, probing), rng.next());
      return pick >= 0 && ctx.choose(pick, 'policy');
    },
  };
}

/**
 * Fills the route's policy input with the fleet statistics of the arms the
 * policy sees (eligible, minus probing arms). Shared by the policy step and
 * the engine's propensities.
 */
export function fillPolicyInput(route: RouteRuntime, state: ReplicaState, probing: boolean, scratch: ArmStats): void {
  const ri = state.routeIndex(route.name);
  const input = route.input;
  if (ri === undefined) throw new RangeError(`route ${route.name} is not in the replica state`);
  input.reset(state.fleetTotal(ri));
  const e = route.eligibility;
  for (let a = 0; a < route.armNames.length; a++) if (e.inPolicy(a, probing)) input.push(a, state.fleet(ri, a, scratch));
}

/** The route's policy over the eligible arms, with the exploration floor (`min_share`). Always decides. */
export function policyStep({ state, rng }: StepDeps): DecisionStep {
  const scratch: ArmStats = { n: 0, sum: 0, sumSq: 0 };
  return {
    name: 'policy',
    run(ctx) {
      const route = ctx.route;
      fillPolicyInput(route, state, ctx.probing > 0, scratch);
      const pos = chooseWithFloor(route.policy, route.input, rng, route.config.policy.min_share);
      return ctx.choose(route.input.armIndex[pos] ?? route.defaultArm, 'policy');
    },
  };
}

/** The standard pipeline, in order. */
export function standardSteps(deps: StepDeps): DecisionStep[] {
  return [pausedStep, forcedStep, allQuarantinedStep, stickyStep(deps), contextStep(deps), budgetStep(deps), probationStep(deps.rng), policyStep(deps)];
}

/** Runs the steps in order until one decides; the default arm (`fallback`) if none does. */
export class DecisionPipeline {
  readonly steps: readonly DecisionStep[];

  constructor(
    steps: readonly DecisionStep[],
    private readonly state: ReplicaState,
  ) {
    const seen = new Set<string>();
    for (const s of steps) {
      if (seen.has(s.name)) throw new RangeError(`decision step "${s.name}" appears twice`);
      seen.add(s.name);
    }
    this.steps = steps;
  }

  names(): string[] {
    return this.steps.map((s) => s.name);
  }

  /** The plan for one route: the steps that apply to it, in order (kept on the route; a reload makes new routes). */
  plan(route: PlannedRoute): RoutePlan {
    return (route.plan ??= new RoutePlan(this.steps, route));
  }

  run(ctx: DecisionContext): void {
    const route = ctx.route;
    route.eligibility.refresh(this.state, ctx.now);
    this.plan(route).run(ctx);
  }
}
