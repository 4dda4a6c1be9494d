import { chooseWithFloor, propensitiesWithFloor } from '../policy/floor.js';
import type { Rng } from '../util/rng.js';
import type { ContextualSetup } from './config.js';
import { createContextualPolicy } from './config.js';
import type { HeaderGetter } from './features.js';
import { LinearArm } from './model.js';
import { Context, type ContextInput, type ContextualPolicy } from './policies.js';

/**
 * One route's contextual decision, everything preallocated: set the request's
 * context, choose among the eligible arms with the exploration floor, read
 * the propensities, learn from a reward. The offline tools (replay, evaluate,
 * the benchmark) and the engine step drive this one class.
 */
export class ContextualChooser {
  readonly arms: LinearArm[];
  readonly ctx: Context;
  readonly policy: ContextualPolicy;
  readonly minShare: number;
  private readonly input: { k: number; armIndex: Int32Array; ctx: Context; arms: readonly LinearArm[] };
  private readonly posProb: Float64Array;

  constructor(
    readonly setup: ContextualSetup,
    readonly armCount: number,
  ) {
    const d = setup.features.dim;
    this.arms = Array.from({ length: armCount }, () => new LinearArm(d, setup.policy.lambda));
    this.ctx = new Context(d);
    this.policy = createContextualPolicy(setup.policy);
    this.minShare = setup.policy.min_share;
    this.input = { k: 0, armIndex: new Int32Array(armCount), ctx: this.ctx, arms: this.arms };
    this.posProb = new Float64Array(armCount);
  }

  /** Extracts x from request headers. */
  setContext(get: HeaderGetter): this {
    this.setup.features.extract(get, this.ctx.x);
    this.ctx.index();
    return this;
  }

  /** Extracts x from a header → value record (logs, replay files). */
  setContextRecord(values: Readonly<Record<string, string | number | undefined>>): this {
    this.setup.features.extractRecord(values, this.ctx.x);
    this.ctx.index();
    return this;
  }

  private fillEligible(eligible: Uint8Array | null): number {
    const inp = this.input;
    let k = 0;
    for (let a = 0; a < this.armCount; a++) if (eligible === null || eligible[a]) inp.armIndex[k++] = a;
    inp.k = k;
    return k;
  }

  /** The configured arm index chosen for the current context (-1 when no arm is eligible). */
  choose(rng: Rng, eligible: Uint8Array | null = null): number {
    if (this.fillEligible(eligible) === 0) return -1;
    const pos = chooseWithFloor(this.policy, this.input as ContextInput, rng, this.minShare);
    return this.input.armIndex[pos]!;
  }

  /** out[a] = probability of arm a for the current context, floor included (0 for ineligible arms). */
  propensities(out: Float64Array, eligible: Uint8Array | null = null): Float64Array {
    out.fill(0, 0, this.armCount);
    const k = this.fillEligible(eligible);
    if (k === 0) return out;
    propensitiesWithFloor(this.policy, this.input as ContextInput, this.minShare, this.posProb);
    for (let p = 0; p < k; p++) out[this.input.armIndex[p]!] = this.posProb[p]!;
    return out;
  }

  /** Learns reward r for `arm` at the current context. */
  observe(arm: number, reward: number, weight = 1): void {
    this.arms[arm]!.add(this.ctx.x, reward, weight, this.ctx.nz, this.ctx.nnz);
  }
}
