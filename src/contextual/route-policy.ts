import type { ContextualPolicyParams } from '../config/types.js';
import type { ArmStats, Policy, PolicyInput } from '../policy/types.js';
import type { Rng } from '../util/rng.js';
import { FeatureMap, type FeatureSpec, type HeaderGetter } from './features.js';
import { LinearArm } from './model.js';
import { Context, LinTsPolicy, LinUcbPolicy, type ContextualPolicy } from './policies.js';

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

  constructor(params: ContextualPolicyParams, specs: readonly FeatureSpec[], armCount: number) {
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

  /** Learns reward r for configured arm `arm` at the current context. */
  observe(arm: number, reward: number): void {
    this.arms[arm]?.add(this.ctx.x, reward, 1, this.ctx.nz, this.ctx.nnz);
  }

  /** Keeps the learned models of arms that remain after a reload, when the features are unchanged. */
  adoptFrom(old: ContextualRoutePolicy, oldArms: readonly string[], newArms: readonly string[]): void {
    if (old.shapeKey !== this.shapeKey) return;
    newArms.forEach((name, a) => {
      const i = oldArms.indexOf(name);
      if (i >= 0) this.arms[a]!.load(old.arms[i]!.stats);
    });
  }

  describe(stats: ArmStats): Record<string, number> {
    return { n: stats.n, mean: stats.n > 0 ? stats.sum / stats.n : 0 };
  }
}
