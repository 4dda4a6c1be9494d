import { describe, expect, it } from 'vitest';
import { invertSpd, shermanMorrison } from '../../src/contextual/linalg.js';
import { LinearArm, REBUILD_EVERY } from '../../src/contextual/model.js';
import { createRng, normal } from '../../src/util/rng.js';

const d = 6;
function randomSpd(seed: number): Float64Array {
  const rng = createRng(seed);
  const B = Float64Array.from({ length: d * d }, () => normal(rng));
  const A = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
    let s = i === j ? 0.5 : 0;
    for (let k = 0; k < d; k++) s += B[i * d + k]! * B[j * d + k]!;
    A[i * d + j] = s;
  }
  return A;
}
const mul = (X: Float64Array, Y: Float64Array) => {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) out[i * d + j] = out[i * d + j]! + X[i * d + k]! * Y[k * d + j]!;
  return out;
};

describe('linear algebra', () => {
  it('invertSpd returns the inverse of a positive-definite matrix', () => {
    for (const seed of [1, 2, 3]) {
      const A = randomSpd(seed);
      const inv = new Float64Array(d * d);
      expect(invertSpd(A, d, inv, new Float64Array(d * d))).toBe(true);
      const I = mul(A, inv);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) expect(I[i * d + j]).toBeCloseTo(i === j ? 1 : 0, 9);
    }
  });

  it('invertSpd refuses a matrix that is not positive definite', () => {
    const A = new Float64Array(d * d);
    A[0] = -1;
    expect(invertSpd(A, d, new Float64Array(d * d), new Float64Array(d * d))).toBe(false);
  });

  it('a Sherman–Morrison update equals inverting A + w·x xᵀ afresh', () => {
    const A = randomSpd(7);
    const M = new Float64Array(d * d);
    invertSpd(A, d, M, new Float64Array(d * d));
    const x = Float64Array.from({ length: d }, (_, i) => (i % 3) - 1);
    shermanMorrison(M, x, 0.7, d, new Float64Array(d));
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) A[i * d + j] = A[i * d + j]! + 0.7 * x[i]! * x[j]!;
    const fresh = new Float64Array(d * d);
    invertSpd(A, d, fresh, new Float64Array(d * d));
    for (let i = 0; i < d * d; i++) expect(M[i]).toBeCloseTo(fresh[i]!, 10);
  });
});

describe('LinearArm', () => {
  it('recovers a linear reward function, and incremental updates agree with an exact rebuild', () => {
    const rng = createRng(3);
    const truth = [0.2, 0.5, -0.1, 0.3, 0, 0.05];
    const arm = new LinearArm(d, 1);
    const x = new Float64Array(d);
    for (let t = 0; t < REBUILD_EVERY - 5; t++) {
      x[0] = 1;
      for (let i = 1; i < d; i++) x[i] = rng.next() < 0.5 ? 1 : 0;
      const r = truth.reduce((s, w, i) => s + w * x[i]!, 0) + 0.05 * normal(rng);
      arm.add(x, r);
    }
    const incremental = Float64Array.from(arm.theta);
    arm.rebuild();
    for (let i = 0; i < d; i++) {
      expect(incremental[i]).toBeCloseTo(arm.theta[i]!, 9);
      expect(arm.theta[i]).toBeCloseTo(truth[i]!, 1);
    }
  });

  it('the sparse paths (update and variance over the nonzeros) agree with the dense ones', () => {
    const dense = new LinearArm(d, 1);
    const sparse = new LinearArm(d, 1);
    const rng = createRng(8);
    const x = new Float64Array(d);
    const nz = new Int32Array(d);
    const xv = new Float64Array(d);
    for (let t = 0; t < 300; t++) {
      x.fill(0);
      x[0] = 1;
      x[1 + Math.floor(rng.next() * 3)] = 1;
      x[5] = rng.next();
      let nnz = 0;
      for (let i = 0; i < d; i++) if (x[i] !== 0) { xv[nnz] = x[i]!; nz[nnz++] = i; }
      const r = rng.next();
      dense.add(x, r);
      sparse.add(x, r, 1, nz, nnz);
      let quad = 0;
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) quad += x[i]! * sparse.M[i * d + j]! * x[j]!;
      expect(sparse.variance(xv, nz, nnz)).toBeCloseTo(quad, 12);
    }
    for (let i = 0; i < d; i++) expect(sparse.theta[i]).toBeCloseTo(dense.theta[i]!, 12);
    for (let i = 0; i < d * d; i++) expect(sparse.M[i]).toBeCloseTo(dense.M[i]!, 12);
  });

  it('scale() shrinks the evidence: the variance of a prediction grows back toward the prior', () => {
    const arm = new LinearArm(2, 1);
    const x = Float64Array.of(1, 1);
    const nz = Int32Array.of(0, 1);
    for (let t = 0; t < 100; t++) arm.add(x, 1);
    const before = arm.variance(x, nz, 2);
    arm.scale(0.01);
    expect(arm.stats.n).toBeCloseTo(1, 9);
    expect(arm.variance(x, nz, 2)).toBeGreaterThan(50 * before);
  });
});
