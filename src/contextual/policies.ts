import { createRng, type Rng } from '../util/rng.js';
import { MC_DRAWS } from '../policy/monte-carlo.js';
import { fastNormal, SampleStream } from '../policy/sampling.js';
import { addArgmaxShare, argmaxRandomTie, fillZero, ScoreBuffer } from '../policy/select.js';
import type { LinearArm } from './model.js';

/** LinUCB's width multiplier α: score = θᵀx + α·sqrt(xᵀ(λI + A)⁻¹x). */
export const DEFAULT_LINUCB_ALPHA = 1;
/** Linear Thompson's posterior scale v: θ̃ ~ N(θ, v²(λI + A)⁻¹). */
export const DEFAULT_LINTS_V = 0.5;

/**
 * One request's feature vector and the positions of its nonzero entries.
 * One-hot features make x sparse (1 + one slot per feature), so every
 * per-arm product runs over nnz, not d: with 16 features the quadratic form
 * costs at most 17² multiply-adds whatever the hashed dimension.
 */
export class Context {
  readonly x: Float64Array;
  readonly nz: Int32Array;
  /** xv[p] = x[nz[p]]: the nonzero values, packed. */
  readonly xv: Float64Array;
  nnz = 0;
  /** Content hash of x (seeds Monte-Carlo propensities); set by index(). */
  hash = 0;

  constructor(readonly dim: number) {
    this.x = new Float64Array(dim);
    this.nz = new Int32Array(dim);
    this.xv = new Float64Array(dim);
  }

  /** Call after writing x: records the nonzero positions. */
  index(): this {
    let n = 0;
    let h = 0x811c9dc5 ^ this.dim;
    for (let i = 0; i < this.dim; i++) {
      const v = this.x[i]!;
      if (v !== 0) {
        this.xv[n] = v;
        this.nz[n++] = i;
        h = Math.imul(h ^ i, 0x01000193);
        h = Math.imul(h ^ ((v * 1e6) | 0), 0x01000193);
      }
    }
    this.nnz = n;
    this.hash = h >>> 0;
    return this;
  }
}

/**
 * What a contextual policy sees for one decision: the k eligible arms (as
 * positions, with their configured index), the request's context, and the
 * route's per-arm linear models indexed by configured arm index.
 */
export interface ContextInput {
  readonly k: number;
  readonly armIndex: Int32Array;
  readonly ctx: Context;
  readonly arms: readonly LinearArm[];
}

export interface ContextualPolicy {
  readonly type: 'linucb' | 'lints';
  /** Returns a position in 0..k-1. */
  choose(input: ContextInput, rng: Rng): number;
  /** out[0..k-1] = probability of choosing each position for this context; sums to 1. */
  propensities(input: ContextInput, out: Float64Array): void;
}

/**
 * Disjoint LinUCB (Li et al. 2010): per arm a ridge regression of reward on
 * x; pick the largest upper confidence bound. Deterministic given the
 * statistics, so the propensities are exact (ties split uniformly).
 */
export class LinUcbPolicy implements ContextualPolicy {
  readonly type = 'linucb';
  private readonly scores = new ScoreBuffer(8);

  constructor(readonly alpha: number = DEFAULT_LINUCB_ALPHA) {}

  private fill(input: ContextInput): Float64Array {
    const { k, ctx, arms, armIndex } = input;
    const s = this.scores.get(k);
    for (let p = 0; p < k; p++) {
      const m = arms[armIndex[p]!]!;
      s[p] = m.mean(ctx.xv, ctx.nz, ctx.nnz) + this.alpha * Math.sqrt(m.variance(ctx.xv, ctx.nz, ctx.nnz));
    }
    return s;
  }

  choose(input: ContextInput, rng: Rng): number {
    return argmaxRandomTie(this.fill(input), input.k, rng);
  }

  propensities(input: ContextInput, out: Float64Array): void {
    fillZero(input.k, out);
    addArgmaxShare(this.fill(input), input.k, 1, out);
  }
}

/**
 * Linear Thompson sampling (Agrawal & Goyal 2013), disjoint models. Drawing
 * θ̃_a ~ N(θ_a, v² M_a) and scoring θ̃_aᵀx is, for the one x at hand, the same
 * as drawing the score from N(θ_aᵀx, v² xᵀM_a x): arms are independent, so
 * the k scores have exactly the joint law of the full-vector draw. That
 * needs one normal per arm and no Cholesky factor. Propensities are a
 * Monte-Carlo estimate seeded from the context and the models' versions.
 */
export class LinTsPolicy implements ContextualPolicy {
  readonly type = 'lints';
  private readonly stream = new SampleStream();
  private readonly mu = new ScoreBuffer(8);
  private readonly sd = new ScoreBuffer(8);

  constructor(
    readonly v: number = DEFAULT_LINTS_V,
    private readonly draws: number = MC_DRAWS,
  ) {}

  private moments(input: ContextInput): void {
    const { k, ctx, arms, armIndex } = input;
    const mu = this.mu.get(k);
    const sd = this.sd.get(k);
    for (let p = 0; p < k; p++) {
      const m = arms[armIndex[p]!]!;
      mu[p] = m.mean(ctx.xv, ctx.nz, ctx.nnz);
      sd[p] = this.v * Math.sqrt(m.variance(ctx.xv, ctx.nz, ctx.nnz));
    }
  }

  private sample(k: number, st: SampleStream): number {
    const mu = this.mu.get(k);
    const sd = this.sd.get(k);
    let best = 0;
    let bestDraw = -Infinity;
    for (let p = 0; p < k; p++) {
      const s = mu[p]! + sd[p]! * fastNormal(st);
      if (s > bestDraw) {
        bestDraw = s;
        best = p;
      }
    }
    return best;
  }

  choose(input: ContextInput, rng: Rng): number {
    this.moments(input);
    return this.sample(input.k, this.stream.seedFrom(rng));
  }

  propensities(input: ContextInput, out: Float64Array): void {
    const k = input.k;
    this.moments(input);
    let seed = input.ctx.hash;
    for (let p = 0; p < k; p++) seed = Math.imul(seed ^ input.arms[input.armIndex[p]!]!.version, 0x01000193) ^ input.armIndex[p]!;
    const st = new SampleStream().seedFrom(createRng(seed >>> 0));
    fillZero(k, out);
    for (let m = 0; m < this.draws; m++) {
      const p = this.sample(k, st);
      out[p] = out[p]! + 1;
    }
    for (let p = 0; p < k; p++) out[p] = out[p]! / this.draws;
  }
}
