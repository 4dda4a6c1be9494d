import { DEFAULT_GUARDRAIL_EWMA } from '../config/defaults.js';
import type { GuardrailsConfig } from '../config/types.js';
import { BernoulliCusum, errorDesign, exceedanceLimitMs, SEQ_LATENCY_Q0, SEQ_MAX_P1 } from './cusum.js';
import { Ewma } from './ewma.js';
import { Tally } from './tally.js';
import {
  baselineErrorRate,
  baselineRate,
  EWMA_MIN_HISTORY,
  isSequential,
  judge,
  recentSamples,
  ruleReadings,
  signalOf,
  type Baselines,
  type Charts,
  type GuardSignal,
  type Recent,
  type RuleReading,
  type Verdict,
} from './verdict.js';
import { SlidingWindow } from './window.js';

/** What /v1/routes shows per arm. */
export interface GuardReadings {
  samples: number;
  error_rate: number | null;
  p95_ms: number | null;
  baseline: { error_rate: { mean: number; sd: number; n: number }; p95_ms: { mean: number; sd: number; n: number } };
  probation_samples: number | null;
  /** The sequential charts: statistic, threshold and the rates each tests (null while off or not yet armed). */
  sequential: {
    errors: { cusum: number; threshold: number; p0: number; p1: number } | null;
    latency: { cusum: number; threshold: number; exceedance_ms: number; q0: number; q1: number } | null;
  } | null;
  rules: RuleReading[];
}

/** The EWMA rules read at least the current and the previous bucket (≥ one bucket of time). */
export const RECENT_MIN_BUCKETS = 2;

/**
 * One arm's guardrail signals: a sliding window (error rate, p95), EWMA
 * baselines fed by the buckets that leave the window, the sequential charts
 * (CUSUMs on errors and latency exceedances against that baseline, updated per
 * request), and during probation a tally of the fresh samples since probation
 * began (not windowed, so a trickle of probe traffic still reaches min_samples).
 */
export class ArmGuard {
  readonly window: SlidingWindow;
  readonly baseline: Baselines;
  readonly charts: Charts;
  /** Responses slower than this are latency exceedances (Infinity until the baseline has a p95). */
  exceedanceMs = Number.POSITIVE_INFINITY;
  private probe: Tally | null = null;
  private readonly recent: Recent = { errors: new Tally(), latency: new Tally() };

  constructor(public cfg: GuardrailsConfig) {
    // The baseline learns whenever a rule reads it; the EWMA rules' alpha sets its memory when they are on.
    const alpha = cfg.ewma?.alpha ?? DEFAULT_GUARDRAIL_EWMA.alpha;
    this.baseline = { errorRate: new Ewma(alpha), residual: new Ewma(alpha), requests: new Ewma(alpha), errors: new Ewma(alpha), latencyP95: new Ewma(alpha) };
    const h = cfg.sequential?.threshold ?? Number.POSITIVE_INFINITY;
    this.charts = { errors: new BernoulliCusum(h), latency: new BernoulliCusum(h) };
    this.window = new SlidingWindow(cfg.window_ms, (b) => this.learn(b));
  }

  private learn(bucket: Tally): void {
    if (!this.cfg.ewma && !this.cfg.sequential) return;
    this.baseline.errorRate.update(bucket.errorRate);
    this.baseline.requests.update(bucket.count);
    this.baseline.errors.update(bucket.errors);
    this.baseline.residual.update((bucket.errors - baselineRate(this.baseline) * bucket.count) ** 2);
    this.baseline.latencyP95.update(Math.min(bucket.p95, this.latencyLearnCap()));
    this.design();
  }

  /**
   * A bucket's p95 is learned at most at the arm's exceedance limit (a
   * winsorized EWMA): a few seconds of a host-wide stall (held as common mode,
   * not the arm's normal) would otherwise lift the baseline — 55 ms to 760 ms
   * after three 1.5 s buckets at alpha 0.2 — and blunt the latency chart for
   * a minute. A lasting change is still learned, by up to 1 + alpha per bucket.
   */
  private latencyLearnCap(): number {
    const l = this.baseline.latencyP95;
    return l.n >= EWMA_MIN_HISTORY ? exceedanceLimitMs(l.mean) : Number.POSITIVE_INFINITY;
  }

  /** Points the sequential charts at the baseline as it is now (once it has EWMA_MIN_HISTORY updates). */
  private design(): void {
    const seq = this.cfg.sequential;
    if (!seq) return;
    const b = this.baseline;
    if (b.requests.n >= EWMA_MIN_HISTORY) {
      const { p, nBase, phi } = baselineErrorRate(b);
      const { p0, p1 } = errorDesign(p, nBase, phi, seq.shift);
      this.charts.errors.design(p0, p1);
    }
    if (b.latencyP95.n >= EWMA_MIN_HISTORY) {
      this.exceedanceMs = exceedanceLimitMs(b.latencyP95.mean);
      this.charts.latency.design(SEQ_LATENCY_Q0, Math.min(SEQ_MAX_P1, SEQ_LATENCY_Q0 + seq.shift));
    }
  }

  record(now: number, isError: boolean, latencyMs: number): void {
    this.window.record(now, isError, latencyMs);
    this.probe?.add(isError, latencyMs);
    this.charts.errors.add(isError);
    this.charts.latency.add(latencyMs > this.exceedanceMs);
  }

  /** Whether a sequential chart is over its threshold now (O(1): the charts move per request). */
  get sequentialFailing(): boolean {
    return this.charts.errors.failing || this.charts.latency.failing;
  }

  /** The verdict at `now`: over the probation samples while probing, else over the window. */
  evaluate(now: number): Verdict {
    const [t, recent] = this.spans(now);
    return judge(t, recent, this.baseline, this.cfg, this.charts);
  }

  /** Every applicable rule's value and limit at `now` (passing or not): margins, /v1/routes. */
  ruleReadings(now: number): RuleReading[] {
    const [t, recent] = this.spans(now);
    return ruleReadings(t, recent, this.baseline, this.cfg, this.charts);
  }

  private spans(now: number): [Tally, Recent] {
    this.window.advance(now);
    if (this.probe) return [this.probe, { errors: this.probe, latency: this.probe }];
    const r = this.recent;
    this.window.recent(recentSamples(this.cfg, 'errors'), RECENT_MIN_BUCKETS, r.errors);
    this.window.recent(recentSamples(this.cfg, 'latency'), RECENT_MIN_BUCKETS, r.latency);
    return [this.window.total, r];
  }

  /**
   * How far this arm's readings of one signal have moved from its own baseline
   * toward their limits: 0 at the baseline, 1 at the limit (the largest over
   * the signal's rules with at least min_samples). null without such a reading.
   */
  shift(signal: GuardSignal, now: number): number | null {
    let best: number | null = null;
    for (const r of this.ruleReadings(now)) {
      if (signalOf(r.rule) !== signal || r.samples < this.cfg.min_samples) continue;
      if (isSequential(r.rule)) {
        // Read from the statistic and the recent rate, not from S alone (cusum.ts, shift).
        const s = (r.rule === 'cusum_error_rate' ? this.charts.errors : this.charts.latency).shift;
        if (best === null || s > best) best = s;
        continue;
      }
      const base = signal === 'errors' ? baselineRate(this.baseline) : this.baseline.latencyP95.n > 0 ? this.baseline.latencyP95.mean : 0;
      const span = r.limit - base;
      const s = span > 0 ? (r.value - base) / span : r.value > base ? 1 : 0;
      if (best === null || s > best) best = s;
    }
    return best;
  }

  get probing(): boolean {
    return this.probe !== null;
  }

  /** Fresh samples only from here on: the window is emptied (not learned from) and a probation tally starts. */
  startProbation(): void {
    this.window.clear();
    this.resetCharts();
    this.probe = new Tally();
  }

  endProbation(): void {
    this.probe = null;
  }

  /** Forgets the window without teaching the baseline (after a trip: failing traffic is not "normal"). */
  dropWindow(): void {
    this.window.clear();
    this.resetCharts();
  }

  private resetCharts(): void {
    this.charts.errors.reset();
    this.charts.latency.reset();
  }

  /** Forgets the baseline; the sequential charts are off until it has EWMA_MIN_HISTORY updates again. */
  resetBaseline(): void {
    for (const e of Object.values(this.baseline)) e.reset();
    this.charts.errors.disarm();
    this.charts.latency.disarm();
    this.exceedanceMs = Number.POSITIVE_INFINITY;
  }

  private sequentialReadings(): NonNullable<GuardReadings['sequential']> {
    const { errors: e, latency: l } = this.charts;
    return {
      errors: e.ready ? { cusum: e.s, threshold: e.threshold, p0: e.p0, p1: e.p1 } : null,
      latency: l.ready ? { cusum: l.s, threshold: l.threshold, exceedance_ms: this.exceedanceMs, q0: l.p0, q1: l.p1 } : null,
    };
  }

  readings(now: number): GuardReadings {
    this.window.advance(now);
    const t = this.window.total;
    const e = this.baseline.errors;
    const l = this.baseline.latencyP95;
    return {
      samples: t.count,
      error_rate: t.count ? t.errorRate : null,
      p95_ms: t.count ? t.p95 : null,
      baseline: { error_rate: { mean: baselineRate(this.baseline), sd: this.baseline.errorRate.sd, n: e.n }, p95_ms: { mean: l.mean, sd: l.sd, n: l.n } },
      probation_samples: this.probe ? this.probe.count : null,
      sequential: this.cfg.sequential ? this.sequentialReadings() : null,
      rules: this.ruleReadings(now),
    };
  }
}
