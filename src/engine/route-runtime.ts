import type { ContextFreePolicyParams, RouteConfig } from '../config/types.js';
import { ContextualRoutePolicy } from '../contextual/route-policy.js';
import { SloBudget, type SloCounts } from '../slo/budget.js';
import { halfLifeOf } from '../state/accumulator.js';
import type { HeaderList } from '../extproc/handler.js';
import { createPolicy } from '../policy/registry.js';
import type { Policy } from '../policy/types.js';
import { PolicyInputBuffer } from '../policy/input.js';
import { compileSuccessRules, type SuccessRules } from '../reward/outcome.js';
import { StickySessions } from '../sticky/sessions.js';
import type { PinCodec } from '../sticky/pin.js';
import { RouteEligibility } from './eligibility.js';

export type { RouteMode } from '../state/records.js';
import type { RouteMode } from '../state/records.js';

/** Everything the engine needs per configured route, built once per (re)load. */
/**
 * `Plan` is the decision plan the engine's pipeline keeps on the route
 * (pipeline.ts's RoutePlan): a type parameter, so this module does not import
 * the pipeline that imports it.
 */
export class RouteRuntime<Plan = unknown> {
  readonly policy: Policy;
  /** The contextual policy (also `policy`) when the route is linucb or lints: the engine sets each request's context on it. */
  readonly contextual: ContextualRoutePolicy | null;
  readonly input: PolicyInputBuffer;
  /** The route's SLO error budget (the fleet's outcomes when the engine gives a source), when it declares one. */
  readonly slo: SloBudget | null;
  readonly sticky: StickySessions | null;
  /** The route's success sets, compiled for classifyExchange. */
  readonly success: SuccessRules;
  /** Request headers the sidecar removes before the backend sees them (the echoed sticky pin). */
  readonly stripOnRequest: readonly string[];
  readonly armNames: readonly string[];
  readonly clusters: readonly string[];
  readonly costs: readonly number[];
  readonly maxCost: number;
  readonly defaultArm: number;
  readonly armIndex: ReadonlyMap<string, number>;
  /** The fleet's mode for the route (records), refreshed by Engine.syncRecords. */
  mode: RouteMode = 'active';
  /** ReplicaState.flagsVersion the mode was read at (-1: never). */
  recordsVersion = -1;
  /** The reset record's stamp the route's sticky sessions date from ('' none yet; null before the first sync). */
  resetEpoch: string | null = null;
  /** The engine's metric series for this route (opaque here), created on first use. */
  metricHandles: unknown = undefined;
  /** The decision steps that apply to this route (set by the engine's pipeline on first use). */
  plan: Plan | undefined = undefined;
  /** Which arms may be chosen and which are in probation on this replica (rules: eligibility.ts). */
  readonly eligibility: RouteEligibility;

  constructor(
    readonly config: RouteConfig,
    pins: PinCodec,
    /** Where the SLO budget's outcome counts live (the replica state's fleet tally); a local tally when absent. */
    sloCounts?: SloCounts,
  ) {
    this.armNames = config.arms.map((a) => a.name);
    this.clusters = config.arms.map((a) => a.cluster);
    this.costs = config.arms.map((a) => a.cost);
    this.maxCost = Math.max(0, ...this.costs);
    this.armIndex = new Map(this.armNames.map((n, i) => [n, i]));
    this.defaultArm = this.armIndex.get(config.default_arm) ?? 0;
    const p = config.policy;
    this.contextual = p.type === 'linucb' || p.type === 'lints' ? new ContextualRoutePolicy(p, config.features ?? [], this.armNames.length, halfLifeOf(p.drift)) : null;
    this.policy = this.contextual ?? createPolicy(p as ContextFreePolicyParams, this.armNames);
    this.input = new PolicyInputBuffer(this.armNames.length);
    const slo = config.slo;
    this.slo = slo ? new SloBudget({ objective: slo.objective, windowMs: slo.window_ms, throttleBelow: slo.throttle_below, stopBelow: slo.stop_below }, sloCounts) : null;
    this.sticky = config.sticky ? new StickySessions(config.sticky, config.name, this.armNames, pins) : null;
    this.stripOnRequest = config.sticky?.pin_header ? [config.sticky.pin_header] : [];
    this.success = compileSuccessRules(config.reward);
    this.eligibility = new RouteEligibility(config.name, this.armNames);
  }

  get name(): string {
    return this.config.name;
  }

  matches(headers: HeaderList): boolean {
    const m = this.config.match;
    if (m.path_prefix !== null) {
      const path = headers.get(':path');
      if (path === undefined || !path.startsWith(m.path_prefix)) return false;
    }
    if (m.authority !== null) {
      const authority = headers.get(':authority') ?? headers.get('host');
      if (authority === undefined || authority.toLowerCase() !== m.authority.toLowerCase()) return false;
    }
    if (m.header !== null && headers.get(m.header.name) !== m.header.value) return false;
    return true;
  }
}
