/**
 * Dense symmetric-matrix helpers on row-major Float64Arrays (d×d), written for
 * the contextual policies' hot path: no allocation, caller-owned work buffers.
 */

/**
 * In place: M ← (M⁻¹ + w·x xᵀ)⁻¹ given M = A⁻¹ symmetric (Sherman–Morrison):
 * M − w (M x)(M x)ᵀ / (1 + w xᵀ M x). O(d²). `mx` is a length-d work buffer.
 */
export function shermanMorrison(M: Float64Array, x: Float64Array, w: number, d: number, mx: Float64Array): void {
  let q = 0;
  for (let i = 0; i < d; i++) {
    let s = 0;
    const row = i * d;
    for (let j = 0; j < d; j++) s += M[row + j]! * x[j]!;
    mx[i] = s;
    q += x[i]! * s;
  }
  const c = w / (1 + w * q);
  for (let i = 0; i < d; i++) {
    const ci = c * mx[i]!;
    if (ci === 0) continue;
    const row = i * d;
    for (let j = 0; j < d; j++) M[row + j] = M[row + j]! - ci * mx[j]!;
  }
}

/**
 * out ← A⁻¹ for symmetric positive-definite A, by Cholesky (A = L Lᵀ,
 * A⁻¹ = L⁻ᵀ L⁻¹). O(d³). `work` holds d² numbers. Returns false (out
 * untouched) when A is not numerically positive definite.
 */
export function invertSpd(A: Float64Array, d: number, out: Float64Array, work: Float64Array): boolean {
  const L = work;
  L.fill(0, 0, d * d);
  for (let j = 0; j < d; j++) {
    let s = A[j * d + j]!;
    for (let k = 0; k < j; k++) s -= L[j * d + k]! * L[j * d + k]!;
    if (!(s > 0)) return false;
    const ljj = Math.sqrt(s);
    L[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = A[i * d + j]!;
      for (let k = 0; k < j; k++) t -= L[i * d + k]! * L[j * d + k]!;
      L[i * d + j] = t / ljj;
    }
  }
  // L ← L⁻¹ in place (lower triangular, column by column).
  for (let j = 0; j < d; j++) {
    L[j * d + j] = 1 / L[j * d + j]!;
    for (let i = j + 1; i < d; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= L[i * d + k]! * L[k * d + j]!;
      L[i * d + j] = s / L[i * d + i]!;
    }
  }
  // out = L⁻ᵀ L⁻¹: out[i][j] = Σ_{k ≥ max(i,j)} Linv[k][i] Linv[k][j].
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < d; k++) s += L[k * d + i]! * L[k * d + j]!;
      out[i * d + j] = s;
      out[j * d + i] = s;
    }
  }
  return true;
}

/** out ← M v (d×d times d). */
export function matVec(M: Float64Array, v: Float64Array, d: number, out: Float64Array): Float64Array {
  for (let i = 0; i < d; i++) {
    let s = 0;
    const row = i * d;
    for (let j = 0; j < d; j++) s += M[row + j]! * v[j]!;
    out[i] = s;
  }
  return out;
}
