import type { ContextualPolicyParams } from '../config/types.js';
import type { ArmStats, Policy, PolicyInput } from '../policy/types.js';
import type { Rng } from '../util/rng.js';
import { FeatureMap, type FeatureSpec, type HeaderGetter } from './features.js';
import { LinearArm, type LinearStats } from './model.js';
import { Context, LinTsPolicy, LinUcbPolicy, type ContextualPolicy } from './policies.js';

/**
 * Where a route's fleet-wide linear statistics come from (the replica state:
 * our slot plus every peer's, faded by the half-life).
 */
export interface LinearSource {
  /** Moves whenever the statistics changed other than by this replica's own rewards (merge, expiry, reset, reload). */
  readonly linearVersion: number;
  /** out ← the fleet's statistics of (route, arm) as of `now`. */
  linearFleet(route: number, arm: number, now: number, out: LinearStats): LinearStats;
}

/**
 * A half_life route's cached models are refreshed (O(k·d³)) once the fleet's
 * evidence has faded by this fraction since the last rebuild: between
 * refreshes the models read evidence up to 1 % too heavy.
 */
export const LINEAR_FADE_STEP = 0.01;

/**
 * A contextual policy as the engine runs it: a `Policy` over the engine's
 * usual input (eligible positions, floor and probation applied outside),
 * whose choice and propensities read the context of the request being
 * decided — set by `setContext` from its headers just before — and whose
 * per-arm linear models learn from each reward with that request's context.
 */
export class ContextualRoutePolicy implements Policy {
  readonly type: 'linucb' | 'lints';
  readonly features: FeatureMap;
  readonly ctx: Context;
  readonly arms: LinearArm[];
  private readonly inner: ContextualPolicy;
  private readonly cinput: { k: number; armIndex: Int32Array; ctx: Context; arms: readonly LinearArm[] };
  /** Identifies compatible statistics across a reload: same features, same ridge prior. */
  readonly shapeKey: string;
  /** The source version and time the cached models were last rebuilt at (-1: never). */
  private seenVersion = -1;
  private modelAt = 0;
  /** ms between refreshes of a fading route's models (0: no time decay). */
  private readonly refreshMs: number;

  constructor(
    params: ContextualPolicyParams,
    specs: readonly FeatureSpec[],
    armCount: number,
    private readonly halfLifeMs = 0,
  ) {
    this.refreshMs = halfLifeMs > 0 ? halfLifeMs * -Math.log2(1 - LINEAR_FADE_STEP) : 0;
    this.type = params.type;
    this.features = new FeatureMap(specs);
    this.ctx = new Context(this.features.dim);
    this.arms = Array.from({ length: armCount }, () => new LinearArm(this.features.dim, params.lambda));
    this.inner = params.type === 'linucb' ? new LinUcbPolicy(params.alpha) : new LinTsPolicy(params.v);
    this.cinput = { k: 0, armIndex: new Int32Array(0), ctx: this.ctx, arms: this.arms };
    this.shapeKey = JSON.stringify({ specs, lambda: params.lambda });
  }

  /** The request's context from its headers (null: no headers, the intercept only). */
  setContext(headers: HeaderGetter | null): this {
    if (headers === null) this.ctx.x.fill(0).set([1]);
    else this.features.extract(headers, this.ctx.x);
    this.ctx.index();
    return this;
  }

  setContextRecord(values: Readonly<Record<string, string>>): this {
    this.features.extractRecord(values, this.ctx.x);
    this.ctx.index();
    return this;
  }

  /** The header values the features read (what a decision carries to its reward and the decision log). */
  contextRecord(headers: HeaderGetter | null): Record<string, string> {
    const out: Record<string, string> = {};
    if (headers === null) return out;
    for (const h of this.features.headers) {
      const v = headers.get(h);
      if (v !== undefined) out[h] = v;
    }
    return out;
  }

  private wrap(input: PolicyInput): typeof this.cinput {
    this.cinput.k = input.k;
    this.cinput.armIndex = input.armIndex;
    return this.cinput;
  }

  choose(input: PolicyInput, rng: Rng): number {
    return this.inner.choose(this.wrap(input), rng);
  }

  propensities(input: PolicyInput, out: Float64Array): void {
    this.inner.propensities(this.wrap(input), out);
  }

  /**
   * Brings the cached models up to the fleet's statistics: a rebuild
   * (Cholesky, O(d³) per arm) when the source changed other than by our own
   * rewards — a gossip merge, an expiry, a reset — or, with a half-life, once
   * the evidence has faded by LINEAR_FADE_STEP. Otherwise an int compare.
   */
  sync(source: LinearSource, route: number, now: number): void {
    if (source.linearVersion === this.seenVersion && (this.refreshMs === 0 || (now - this.modelAt < this.refreshMs && now >= this.modelAt))) return;
    for (let a = 0; a < this.arms.length; a++) {
      const arm = this.arms[a]!;
      source.linearFleet(route, a, now, arm.stats);
      arm.rebuild();
    }
    this.seenVersion = source.linearVersion;
    this.modelAt = now;
  }

  /**
   * Learns reward r for configured arm `arm` at the current context, at time
   * `now`, by a Sherman–Morrison update of the cached model (the replica
   * state records the same reward in our slot). With a half-life the weight
   * is the reward's age relative to the model's, 2^((now − modelAt)/h).
   */
  observe(arm: number, reward: number, now = this.modelAt): void {
    const w = this.halfLifeMs > 0 ? Math.pow(2, (now - this.modelAt) / this.halfLifeMs) : 1;
    this.arms[arm]?.add(this.ctx.x, reward, w, this.ctx.nz, this.ctx.nnz);
  }

  describe(stats: ArmStats): Record<string, number> {
    return { n: stats.n, mean: stats.n > 0 ? stats.sum / stats.n : 0 };
  }
}
