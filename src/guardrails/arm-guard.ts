import type { GuardrailsConfig } from '../config/types.js';
import { Ewma } from './ewma.js';
import { Tally } from './tally.js';
import { judge, recentSamples, ruleReadings, signalOf, type Baselines, type GuardSignal, type Recent, type RuleReading, type Verdict } from './verdict.js';
import { SlidingWindow } from './window.js';

/** What /v1/routes shows per arm. */
export interface GuardReadings {
  samples: number;
  error_rate: number | null;
  p95_ms: number | null;
  baseline: { error_rate: { mean: number; sd: number; n: number }; p95_ms: { mean: number; sd: number; n: number } };
  probation_samples: number | null;
  rules: RuleReading[];
}

/** The EWMA rules read at least the current and the previous bucket (≥ one bucket of time). */
export const RECENT_MIN_BUCKETS = 2;

/**
 * One arm's guardrail signals: a sliding window (error rate, p95), EWMA
 * baselines fed by the buckets that leave the window, and during probation a
 * tally of the fresh samples since probation began (not windowed, so a
 * trickle of probe traffic still reaches min_samples).
 */
export class ArmGuard {
  readonly window: SlidingWindow;
  readonly baseline: Baselines;
  private probe: Tally | null = null;
  private readonly recent: Recent = { errors: new Tally(), latency: new Tally() };

  constructor(public cfg: GuardrailsConfig) {
    const alpha = cfg.ewma?.alpha ?? 1;
    this.baseline = { errorRate: new Ewma(alpha), requests: new Ewma(alpha), errors: new Ewma(alpha), latencyP95: new Ewma(alpha) };
    this.window = new SlidingWindow(cfg.window_ms, (b) => this.learn(b));
  }

  private learn(bucket: Tally): void {
    if (!this.cfg.ewma) return;
    this.baseline.errorRate.update(bucket.errorRate);
    this.baseline.requests.update(bucket.count);
    this.baseline.errors.update(bucket.errors);
    this.baseline.latencyP95.update(bucket.p95);
  }

  record(now: number, isError: boolean, latencyMs: number): void {
    this.window.record(now, isError, latencyMs);
    this.probe?.add(isError, latencyMs);
  }

  /** The verdict at `now`: over the probation samples while probing, else over the window. */
  evaluate(now: number): Verdict {
    const [t, recent] = this.spans(now);
    return judge(t, recent, this.baseline, this.cfg);
  }

  /** Every applicable rule's value and limit at `now` (passing or not): margins, /v1/routes. */
  ruleReadings(now: number): RuleReading[] {
    const [t, recent] = this.spans(now);
    return ruleReadings(t, recent, this.baseline, this.cfg);
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
      const base = signal === 'errors' ? this.baselineErrorRate() : this.baseline.latencyP95.n > 0 ? this.baseline.latencyP95.mean : 0;
      const span = r.limit - base;
      const s = span > 0 ? (r.value - base) / span : r.value > base ? 1 : 0;
      if (best === null || s > best) best = s;
    }
    return best;
  }

  private baselineErrorRate(): number {
    const req = this.baseline.requests.mean;
    return req > 0 ? this.baseline.errors.mean / req : 0;
  }

  get probing(): boolean {
    return this.probe !== null;
  }

  /** Fresh samples only from here on: the window is emptied (not learned from) and a probation tally starts. */
  startProbation(): void {
    this.window.clear();
    this.probe = new Tally();
  }

  endProbation(): void {
    this.probe = null;
  }

  /** Forgets the window without teaching the baseline (after a trip: failing traffic is not "normal"). */
  dropWindow(): void {
    this.window.clear();
  }

  resetBaseline(): void {
    for (const e of Object.values(this.baseline)) e.reset();
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
      baseline: { error_rate: { mean: this.baselineErrorRate(), sd: this.baseline.errorRate.sd, n: e.n }, p95_ms: { mean: l.mean, sd: l.sd, n: l.n } },
      probation_samples: this.probe ? this.probe.count : null,
      rules: this.ruleReadings(now),
    };
  }
}
