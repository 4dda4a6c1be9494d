import type { ContextFreePolicyParams, RouteConfig } from '../config/types.js';
import { ContextualRoutePolicy } from '../contextual/route-policy.js';
import type { HeaderList } from '../extproc/handler.js';
import { createPolicy } from '../policy/registry.js';
import type { Policy } from '../policy/types.js';
import { PolicyInputBuffer } from '../policy/input.js';
import { compileStatusMatcher } from '../reward/compute.js';
import { StickySessions } from '../sticky/sessions.js';
import type { Clock } from '../util/clock.js';

export type RouteMode = 'active' | 'paused' | 'frozen';

/** Everything the engine needs per configured route, built once per (re)load. */
export class RouteRuntime {
  readonly policy: Policy;
  /** The contextual policy (also `policy`) when the route is linucb or lints: the engine sets each request's context on it. */
  readonly contextual: ContextualRoutePolicy | null;
  readonly input: PolicyInputBuffer;
  readonly sticky: StickySessions | null;
  readonly isSuccess: (status: number) => boolean;
  readonly armNames: readonly string[];
  readonly clusters: readonly string[];
  readonly costs: readonly number[];
  readonly maxCost: number;
  readonly defaultArm: number;
  readonly armIndex: ReadonlyMap<string, number>;
  mode: RouteMode = 'active';
  /** Eligibility cache: 1 = may be chosen (not quarantined). */
  readonly eligible: Uint8Array;
  eligibleCount: number;
  eligibilityFlagsVersion = -1;
  eligibilityValidUntil = 0;
  /** Quarantine reason per arm (for /v1/routes), '' when active. */
  readonly quarantineRule: string[];
  /** Epoch ms of the last manual release per arm: flags raised before it are ignored here. */
  readonly releasedAt: number[];
  /** 1 = in guardrail probation: re-probed with a fixed slice of traffic outside the policy (set by the guardrails). */
  readonly probation: Uint8Array;
  probationCount = 0;

  constructor(
    readonly config: RouteConfig,
    clock: Clock,
  ) {
    this.armNames = config.arms.map((a) => a.name);
    this.clusters = config.arms.map((a) => a.cluster);
    this.costs = config.arms.map((a) => a.cost);
    this.maxCost = Math.max(0, ...this.costs);
    this.armIndex = new Map(this.armNames.map((n, i) => [n, i]));
    this.defaultArm = this.armIndex.get(config.default_arm) ?? 0;
    const p = config.policy;
    this.contextual = p.type === 'linucb' || p.type === 'lints' ? new ContextualRoutePolicy(p, config.features ?? [], this.armNames.length) : null;
    this.policy = this.contextual ?? createPolicy(p as ContextFreePolicyParams, this.armNames);
    this.input = new PolicyInputBuffer(this.armNames.length);
    this.sticky = config.sticky ? new StickySessions(config.sticky, clock) : null;
    this.isSuccess = compileStatusMatcher(config.reward.success.statuses);
    this.eligible = new Uint8Array(this.armNames.length).fill(1);
    this.eligibleCount = this.armNames.length;
    this.quarantineRule = this.armNames.map(() => '');
    this.releasedAt = this.armNames.map(() => -1);
    this.probation = new Uint8Array(this.armNames.length);
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
