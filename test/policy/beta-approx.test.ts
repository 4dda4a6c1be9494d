import { describe, expect, it } from 'vitest';
import { BETA_APPROX_MIN_SHAPE, exactBeta, fastBeta, SampleStream } from '../../src/policy/sampling.js';
import { createRng } from '../../src/util/rng.js';

/** Two-sample Kolmogorov-Smirnov statistic. */
function ks(a: Float64Array, b: Float64Array): number {
  a.sort();
  b.sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    if (a[i]! <= b[j]!) i++;
    else j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}

describe('the skew-corrected normal Beta draw used for large posteriors', () => {
  const N = 40_000;
  // KS critical value at alpha = 0.001 for n = m = 40,000: 1.95 * sqrt(2/N) ≈ 0.0138.
  const CRITICAL = 1.95 * Math.sqrt(2 / N);

  it.each([
    [BETA_APPROX_MIN_SHAPE, BETA_APPROX_MIN_SHAPE],
    [BETA_APPROX_MIN_SHAPE, 5000],
    [300, 900],
    [5000, BETA_APPROX_MIN_SHAPE],
  ])('is indistinguishable from the exact draw for Beta(%d, %d)', (a, b) => {
    const st = new SampleStream();
    st.seedFrom(createRng(11));
    const approx = new Float64Array(N);
    const exact = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      approx[i] = fastBeta(st, a, b);
      exact[i] = exactBeta(st, a, b);
    }
    expect(ks(approx, exact)).toBeLessThan(CRITICAL);
  });

  it('would be detected if it were a plain normal on a skewed posterior (the test can fail)', () => {
    const st = new SampleStream();
    st.seedFrom(createRng(12));
    const a = 3;
    const b = 400;
    const s = a + b;
    const mean = a / s;
    const sd = Math.sqrt((a * b) / (s * s * (s + 1)));
    const normal = new Float64Array(N);
    const exact = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      // Box-Muller from the stream: a plain, uncorrected normal approximation.
      normal[i] = mean + sd * Math.sqrt(-2 * Math.log(1 - st.next())) * Math.cos(2 * Math.PI * st.next());
      exact[i] = exactBeta(st, a, b);
    }
    expect(ks(normal, exact)).toBeGreaterThan(CRITICAL);
  });
});
