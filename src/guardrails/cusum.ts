/**
 * Sequential detection: a Bernoulli CUSUM (Page 1954; Reynolds & Stoumbos
 * 1999) per arm on two 0/1 streams — "was this request an arm error" and "was
 * this response slower than the arm's latency limit" — each against a rate
 * the arm is known to run at (its own baseline).
 *
 * Why a CUSUM and not an SPRT: an SPRT answers one question once (H0 or H1,
 * then stop), while a guardrail watches forever; the CUSUM is the SPRT
 * restarted at every point where the evidence for a change is zero, and it is
 * the test with the shortest worst-case detection delay for a given
 * false-alarm rate (Lorden 1971, Moustakides 1986). It also reads one sample
 * at a time, so a trip does not wait for a window or a minimum span to fill.
 *
 * The statistic S ← max(0, S + llr(x)) adds, per request, the log-likelihood
 * ratio of "the rate is p1" against "the rate is p0"
 * (ln(p1/p0) for a 1, ln((1-p1)/(1-p0)) for a 0). The chart fails while
 * S > threshold h.
 *
 * False trips (docs/guardrails.md): while the true rate is at most p0, exp(S)
 * is a supermartingale between resets, so each excursion of S away from 0
 * reaches h with probability at most e^-h, and the mean number of requests
 * between false trips (ARL0) is at least e^h. The overshoot over h makes the
 * real figure ~14x smaller: at the default h = 19, importance sampling gives
 * ARL0 ≈ 2.5 · 10^9 requests at a true rate equal to p0 (one false trip per
 * 144 days per chart at 200 req/s on one arm). The rate p0 is an upper
 * confidence bound on the arm's baseline, so a steady arm runs below it.
 *
 * Allocation-free per request: the increments are recomputed only when the
 * baseline moves (once per window bucket).
 */

/** The lowest reference error rate: an arm whose baseline shows no errors is judged against 1 %. */
export const SEQ_MIN_P0 = 0.01;
/** The reference error rate is the baseline rate plus this many standard errors of it (an upper confidence bound). */
export const SEQ_BASELINE_Z = 3;
/** The highest alternative rate (p1 = min(this, p0 + shift)); at or below p0 the chart is off. */
export const SEQ_MAX_P1 = 0.99;
/**
 * Latency exceedance: a response is an exceedance when slower than
 * max(SEQ_LATENCY_FACTOR × baseline p95, baseline p95 + SEQ_LATENCY_MIN_GAP_MS)
 * — the same floors as the EWMA latency rule (never below 2× the arm's normal
 * p95, nor within 100 ms of it). Above its own p95 at most 5 % of a steady
 * arm's responses lie, so above this limit fewer do: SEQ_LATENCY_Q0 is a
 * safe reference rate.
 */
export const SEQ_LATENCY_FACTOR = 2;
export const SEQ_LATENCY_MIN_GAP_MS = 100;
export const SEQ_LATENCY_Q0 = 0.05;
/**
 * S is capped at this multiple of the threshold. A held common-mode event
 * (every arm failing at once) would otherwise pile evidence up for as long as
 * it lasts, and the arms would take that long to drain below the threshold
 * afterwards, one after another — the last one looking like a lone sick arm.
 */
export const SEQ_CAP_FACTOR = 2;
/**
 * Weight of the newest request in the chart's recent rate (an EWMA of the 0/1
 * stream over ~2/alpha = 20 requests). The common-mode check reads it: a
 * CUSUM's position is a random walk — when every arm turns to 50 % errors at
 * once, one arm's statistic can sit at 3x another's after half a second —
 * while the recent rate of every affected arm moves together.
 */
export const SEQ_RECENT_ALPHA = 0.1;
/** The cap on the recent-rate part of a chart's shift (see `shift`). */
export const SEQ_MAX_RATE_SHIFT = 2;

/** The per-request increments of a Bernoulli CUSUM for p0 → p1. */
export function llrIncrements(p0: number, p1: number): { up: number; down: number } {
  return { up: Math.log(p1 / p0), down: Math.log((1 - p1) / (1 - p0)) };
}

/**
 * The reference and alternative rates of the error chart for a baseline rate p
 * over nEff requests with overdispersion phi ≥ 1: p0 is an upper confidence
 * bound on p (bursty arms get a wider one), p1 = p0 + shift.
 */
export function errorDesign(p: number, nEff: number, phi: number, shift: number): { p0: number; p1: number } {
  const se = nEff > 0 ? Math.sqrt((phi * p * (1 - p)) / nEff) : 0;
  const p0 = Math.max(SEQ_MIN_P0, Math.min(1, p + SEQ_BASELINE_Z * se));
  return { p0, p1: Math.min(SEQ_MAX_P1, p0 + shift) };
}

/** The latency above which a response counts as an exceedance, for a baseline p95 in ms. */
export function exceedanceLimitMs(baselineP95: number): number {
  return Math.max(SEQ_LATENCY_FACTOR * baselineP95, baselineP95 + SEQ_LATENCY_MIN_GAP_MS);
}

export class BernoulliCusum {
  /** The statistic (log-likelihood ratio units). */
  s = 0;
  /** Observations since the chart was armed or reset. */
  n = 0;
  p0 = Number.NaN;
  p1 = Number.NaN;
  /** EWMA of the 0/1 stream (SEQ_RECENT_ALPHA): the recent rate. */
  recent = 0;
  private up = 0;
  private down = 0;
  private armed = false;

  constructor(readonly threshold: number) {}

  /** Sets the rates the chart tests (keeps S: the baseline moved, the evidence did not). Off when p1 ≤ p0. */
  design(p0: number, p1: number): void {
    this.p0 = p0;
    this.p1 = p1;
    if (!(p0 > 0 && p1 > p0 && p1 < 1)) {
      this.armed = false;
      this.s = 0;
      return;
    }
    const { up, down } = llrIncrements(p0, p1);
    this.up = up;
    this.down = down;
    if (!this.armed) this.n = 0;
    this.armed = true;
  }

  get ready(): boolean {
    return this.armed;
  }

  add(x: boolean): void {
    if (!this.armed) return;
    this.n++;
    this.recent += SEQ_RECENT_ALPHA * ((x ? 1 : 0) - this.recent);
    const s = this.s + (x ? this.up : this.down);
    this.s = s <= 0 ? 0 : Math.min(s, SEQ_CAP_FACTOR * this.threshold);
  }

  get failing(): boolean {
    return this.armed && this.s > this.threshold;
  }

  /**
   * How far the chart has moved toward failing, for the common-mode check: the
   * larger of S / threshold (capped at 1) and how far the recent rate has gone
   * from p0 toward p1 (1 at p1, capped at SEQ_MAX_RATE_SHIFT: an arm at 70 %
   * errors still stands out against peers at 20 %, while the recent rate's
   * noise over ~20 requests cannot ask twice p1's rise of every peer). 0 on
   * the baseline.
   */
  get shift(): number {
    if (!this.armed) return 0;
    return Math.max(Math.min(1, this.s / this.threshold), Math.min(SEQ_MAX_RATE_SHIFT, (this.recent - this.p0) / (this.p1 - this.p0)));
  }

  /** Forget the evidence (after a trip, at probation, on release); the design is kept. */
  reset(): void {
    this.s = 0;
    this.n = 0;
    this.recent = 0;
  }

  /** Disarm until designed again (the baseline was reset). */
  disarm(): void {
    this.armed = false;
    this.reset();
  }
}
