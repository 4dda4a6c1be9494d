import type { Rng } from '../util/rng.js';

/**
 * Fast samplers for the Thompson policies. Same distributions as
 * `normal`/`gamma`/`beta` in src/util/rng.ts, but the normal is a ziggurat
 * (Marsaglia & Tsang 2000, 128 layers) that costs one uniform draw and one
 * multiply ~99% of the time, instead of Box-Muller's log, sqrt and cos.
 *
 * One 32-bit word w is split into disjoint bits: the low
 * 7 choose the layer, the high 25 are a signed position within it. Keeping the
 * two bit ranges disjoint avoids the layer/value correlation Doornik (2005)
 * found in the original, which reused the low bits of the value as the index.
 */

const LAYERS = 128;
const R = 3.442619855899; // start of the tail
const AREA = 9.91256303526217e-3; // area of each layer
const SCALE = 16777216; // 2^24: magnitude range of the signed 25-bit position

const kn = new Int32Array(LAYERS); // |position| below kn[i]: inside the rectangle, accept
const wn = new Float64Array(LAYERS); // position → x
const fn = new Float64Array(LAYERS); // density at each layer edge

(function buildTables(): void {
  let dn = R;
  let tn = dn;
  const q = AREA / Math.exp(-0.5 * dn * dn);
  kn[0] = Math.floor((dn / q) * SCALE);
  kn[1] = 0;
  wn[0] = q / SCALE;
  wn[LAYERS - 1] = dn / SCALE;
  fn[0] = 1;
  fn[LAYERS - 1] = Math.exp(-0.5 * dn * dn);
  for (let i = LAYERS - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(AREA / dn + Math.exp(-0.5 * dn * dn)));
    kn[i + 1] = Math.floor((dn / tn) * SCALE);
    tn = dn;
    fn[i] = Math.exp(-0.5 * dn * dn);
    wn[i] = dn / SCALE;
  }
})();

const TWO_32 = 4294967296;
const INV_2_32 = 1 / TWO_32;

/**
 * A per-decision stream of random numbers (xoshiro128** with its state in an
 * Int32Array, so drawing allocates nothing and yields int32 words directly).
 * A Thompson decision seeds it from two draws of the injected Rng and then
 * takes its 4 words per arm from it: the decision stays a pure function of the
 * input and the Rng's state, and costs the Rng only 2 draws whatever k is.
 */
export class SampleStream implements Rng {
  private readonly s = new Int32Array(4);

  constructor(seed = 1) {
    this.seed(seed, 0);
  }

  /** Seeds from 64 bits of `rng`. */
  seedFrom(rng: Rng): this {
    return this.seed(rng.next() * TWO_32, rng.next() * TWO_32);
  }

  /** splitmix32 over (lo, hi) fills the 128-bit state; it is never all zero. */
  seed(lo: number, hi: number): this {
    let x = (lo >>> 0) ^ Math.imul(hi >>> 0, 0x9e3779b1);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = z ^ (z >>> 16);
    }
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
    return this;
  }

  /** A uniform 32-bit word as a signed int32. */
  nextInt32(): number {
    const s = this.s;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const s2 = s[2]! ^ s0;
    const s3 = s[3]! ^ s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ (s1 << 9);
    s[3] = rotl(s3, 11);
    return r;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return (this.nextInt32() >>> 0) * INV_2_32;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Standard normal draw (ziggurat). */
export function fastNormal(st: SampleStream): number {
  for (;;) {
    const w = st.nextInt32();
    const iz = w & 127;
    const hz = w >> 7; // signed, in [-2^24, 2^24)
    const x = hz * wn[iz]!;
    if ((hz < 0 ? -hz : hz) < kn[iz]!) return x;
    if (iz === 0) return normalTail(st, hz < 0);
    // Wedge between the rectangle and the curve: accept under the density.
    if (fn[iz]! + st.next() * (fn[iz - 1]! - fn[iz]!) < Math.exp(-0.5 * x * x)) return x;
  }
}

/** Tail beyond R (Marsaglia 1964). */
function normalTail(st: SampleStream, negative: boolean): number {
  for (;;) {
    const x = -Math.log(1 - st.next()) / R;
    const y = -Math.log(1 - st.next());
    if (y + y >= x * x) return negative ? -(R + x) : R + x;
  }
}

/**
 * Gamma(shape, 1) by Marsaglia & Tsang (2000) on the ziggurat normal; for
 * shape < 1, Gamma(a) = Gamma(a + 1) * U^(1/a). A non-positive (or NaN) shape
 * returns 0 instead of looping: callers clamp first.
 */
export function fastGamma(st: SampleStream, shape: number): number {
  if (!(shape > 0)) return 0;
  if (shape === Infinity) return Infinity;
  if (shape < 1) return gammaBoost(st, shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = fastNormal(st);
    let v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const u = st.next();
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2) return d * v;
    if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
  }
}

function gammaBoost(st: SampleStream, shape: number): number {
  const u = 1 - st.next(); // in (0, 1]
  return fastGamma(st, shape + 1) * Math.pow(u, 1 / shape);
}

/**
 * Below this min(a, b) a Beta is drawn exactly; at or above it, by a
 * skew-corrected normal (Cornish-Fisher: mean + sd * (z + skew/6 * (z^2 - 1))).
 * At min(a, b) >= 50 the Beta's excess kurtosis is below 0.12; the two-sample
 * Kolmogorov-Smirnov distance between approximate and exact draws stays under
 * sampling noise (test/policy/beta-approx.test.ts), far inside the posterior's
 * own width — and it costs one normal instead of two gammas.
 */
export const BETA_APPROX_MIN_SHAPE = 50;

/** Beta(a, b): exact (X / (X + Y)) for small shapes, skew-corrected normal for large ones. */
export function fastBeta(st: SampleStream, a: number, b: number): number {
  if (a >= BETA_APPROX_MIN_SHAPE && b >= BETA_APPROX_MIN_SHAPE && a !== Infinity && b !== Infinity) {
    const s = a + b;
    const mean = a / s;
    const sd = Math.sqrt((a * b) / (s * s * (s + 1)));
    const skew = (2 * (b - a) * Math.sqrt(s + 1)) / ((s + 2) * Math.sqrt(a * b));
    const z = fastNormal(st);
    const x = mean + sd * (z + (skew / 6) * (z * z - 1));
    return x < 0 ? 0 : x > 1 ? 1 : x;
  }
  return exactBeta(st, a, b);
}

/** Beta(a, b) as X / (X + Y); 0.5 if both gammas underflow to 0. */
export function exactBeta(st: SampleStream, a: number, b: number): number {
  // One gamma call site, so the optimizer inlines it once and the draws stay
  // unboxed (a second, non-inlined call site boxes its double result).
  let x = 0;
  let y = 0;
  for (let j = 0; j < 2; j++) {
    const g = fastGamma(st, j === 0 ? a : b);
    if (j === 0) x = g;
    else y = g;
  }
  const s = x + y;
  return s > 0 ? x / s : 0.5;
}

/** Uniform position in 0..k-1 (k ≥ 1). */
export function uniformPosition(rng: Rng, k: number): number {
  const i = Math.floor(rng.next() * k);
  return i < k ? i : k - 1;
}
