import { invertSpd, matVec } from './linalg.js';

/** Ridge prior: A starts at λI, so an arm with no data has θ = 0 and variance 1/λ in every direction. */
export const DEFAULT_RIDGE_LAMBDA = 1;
/** Sherman–Morrison updates accumulate rounding error; the inverse is rebuilt exactly after this many. */
export const REBUILD_EVERY = 1024;

/**
 * The additive statistics of one arm's linear reward model: A = Σ w·x xᵀ,
 * b = Σ w·r·x, n = Σ w (w is a decay or warm-start weight, 1 for a fresh
 * observation). They add across replicas and scale under decay, exactly
 * like the context-free (n, sum, sumSq).
 */
export interface LinearStats {
  readonly d: number;
  readonly A: Float64Array;
  readonly b: Float64Array;
  n: number;
}

export function zeroLinearStats(d: number): LinearStats {
  return { d, A: new Float64Array(d * d), b: new Float64Array(d), n: 0 };
}

/** into += w · from (replica merge, warm start). */
export function addLinearStats(into: LinearStats, from: LinearStats, w = 1): void {
  if (into.d !== from.d) throw new RangeError(`linear stats of dimension ${from.d} cannot be added to ${into.d}`);
  for (let i = 0; i < into.A.length; i++) into.A[i] = into.A[i]! + w * from.A[i]!;
  for (let i = 0; i < into.d; i++) into.b[i] = into.b[i]! + w * from.b[i]!;
  into.n += w * from.n;
}

/**
 * One arm: its statistics plus the cache the policies read — M = (λI + A)⁻¹
 * and θ = M b — kept current by Sherman–Morrison on each local observation
 * (O(d²)) and rebuilt by Cholesky (O(d³)) when the statistics are replaced
 * wholesale (a merge, a decay step, a load) or every REBUILD_EVERY updates.
 */
export class LinearArm {
  readonly stats: LinearStats;
  readonly M: Float64Array;
  readonly theta: Float64Array;
  /** Bumped on every change: seeds Monte-Carlo propensities, keys caches. */
  version = 0;
  private sinceRebuild = 0;
  private readonly work: Float64Array;
  private readonly reg: Float64Array;
  private readonly vec: Float64Array;

  constructor(
    readonly d: number,
    readonly lambda: number = DEFAULT_RIDGE_LAMBDA,
  ) {
    this.stats = zeroLinearStats(d);
    this.M = new Float64Array(d * d);
    this.theta = new Float64Array(d);
    this.work = new Float64Array(d * d);
    this.reg = new Float64Array(d * d);
    this.vec = new Float64Array(d);
    this.rebuild();
  }

  /**
   * Adds one observation (reward r at context x, nonzero positions nz[0..nnz))
   * with weight w, in O(d·nnz + d²): A and b change only where x is nonzero;
   * M by Sherman–Morrison; θ by the same rank-one algebra instead of a fresh
   * M b (with u = M x, q = xᵀu, c = w/(1 + w q): θ' = θ − c u (uᵀb) + w r u (1 − c q)).
   */
  add(x: Float64Array, r: number, w = 1, nz?: Int32Array, nnz?: number): void {
    const { d, stats, M, theta } = this;
    const idx = nz ?? this.allIndices();
    const m = nnz ?? d;
    for (let p = 0; p < m; p++) {
      const i = idx[p]!;
      const xi = x[i]!;
      if (xi === 0) continue;
      const row = i * d;
      for (let q = 0; q < m; q++) {
        const j = idx[q]!;
        stats.A[row + j] = stats.A[row + j]! + w * xi * x[j]!;
      }
    }
    stats.n += w;
    this.version++;
    if (++this.sinceRebuild >= REBUILD_EVERY) {
      for (let p = 0; p < m; p++) stats.b[idx[p]!] = stats.b[idx[p]!]! + w * r * x[idx[p]!]!;
      this.rebuild();
      return;
    }
    const u = this.vec;
    let q = 0;
    let ub = 0;
    for (let i = 0; i < d; i++) {
      const row = i * d;
      let s = 0;
      for (let p = 0; p < m; p++) {
        const j = idx[p]!;
        s += M[row + j]! * x[j]!;
      }
      u[i] = s;
      ub += s * stats.b[i]!;
    }
    for (let p = 0; p < m; p++) q += x[idx[p]!]! * u[idx[p]!]!;
    const c = w / (1 + w * q);
    const fb = c * ub;
    const fr = w * r * (1 - c * q);
    for (let i = 0; i < d; i++) {
      const ui = u[i]!;
      theta[i] = theta[i]! - fb * ui + fr * ui;
      if (ui === 0) continue;
      const ci = c * ui;
      const row = i * d;
      for (let j = 0; j < d; j++) M[row + j] = M[row + j]! - ci * u[j]!;
    }
    for (let p = 0; p < m; p++) stats.b[idx[p]!] = stats.b[idx[p]!]! + w * r * x[idx[p]!]!;
  }

  private allIdx: Int32Array | null = null;
  private allIndices(): Int32Array {
    if (!this.allIdx) this.allIdx = Int32Array.from({ length: this.d }, (_, i) => i);
    return this.allIdx;
  }

  /** Replaces the statistics (merge result, snapshot, warm start) and rebuilds the cache. */
  load(from: LinearStats): void {
    if (from.d !== this.d) throw new RangeError(`linear stats of dimension ${from.d} do not fit a model of dimension ${this.d}`);
    this.stats.A.set(from.A);
    this.stats.b.set(from.b);
    this.stats.n = from.n;
    this.rebuild();
  }

  /** Multiplies the statistics by f (decay: the prior λI does not fade) and rebuilds. */
  scale(f: number): void {
    const s = this.stats;
    for (let i = 0; i < s.A.length; i++) s.A[i] = s.A[i]! * f;
    for (let i = 0; i < s.d; i++) s.b[i] = s.b[i]! * f;
    s.n *= f;
    this.rebuild();
  }

  /** M ← (λI + A)⁻¹ exactly, θ ← M b. */
  rebuild(): void {
    const { d, work, reg } = this;
    reg.set(this.stats.A);
    for (let i = 0; i < d; i++) reg[i * d + i] = reg[i * d + i]! + this.lambda;
    if (!invertSpd(reg, d, this.M, work)) {
      // Only reachable with a non-positive λ and degenerate data: fall back to the prior alone.
      this.M.fill(0);
      for (let i = 0; i < d; i++) this.M[i * d + i] = 1 / (this.lambda > 0 ? this.lambda : 1);
    }
    matVec(this.M, this.stats.b, d, this.theta);
    this.sinceRebuild = 0;
    this.version++;
  }

  /** θᵀx, given x's nonzero positions nz[0..nnz) and their values xv (packed). */
  mean(xv: Float64Array, nz: Int32Array, nnz: number): number {
    const theta = this.theta;
    let s = 0;
    for (let p = 0; p < nnz; p++) s += theta[nz[p]!]! * xv[p]!;
    return s;
  }

  /**
   * xᵀ M x over x's nonzero positions nz with packed values xv: the model's
   * variance of θᵀx (in units of the noise). M is symmetric, so the upper
   * triangle is enough: nnz(nnz+1)/2 multiply-adds (153 for 17 nonzeros).
   */
  variance(xv: Float64Array, nz: Int32Array, nnz: number): number {
    const { d, M } = this;
    let diag = 0;
    let off = 0;
    for (let p = 0; p < nnz; p++) {
      const i = nz[p]!;
      const xi = xv[p]!;
      const row = i * d;
      diag += M[row + i]! * xi * xi;
      let t = 0;
      for (let q = p + 1; q < nnz; q++) t += M[row + nz[q]!]! * xv[q]!;
      off += xi * t;
    }
    const s = diag + 2 * off;
    return s > 0 ? s : 0;
  }

  /** Point prediction θᵀx for a dense x (offline tools). */
  predict(x: Float64Array): number {
    let s = 0;
    for (let i = 0; i < this.d; i++) s += this.theta[i]! * x[i]!;
    return s;
  }
}
