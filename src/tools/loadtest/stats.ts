/**
 * What a load run observed, per arm and per session, and the report built
 * from it. Sticky violations: sessions whose responses named more than one
 * arm in `x-bandit-arm` (responses without the header are not counted: the
 * sidecar did not decide those).
 */
import { LOADTEST_LIMITS, NO_ARM, NO_RESPONSE } from './defaults.js';

export interface Sample {
  arm: string;
  /** 0: no response (connect error, reset, timeout). */
  status: number;
  ok: boolean;
  latencyMs: number;
  /** Time to the first body byte (streams). */
  ttfbMs: number | null;
  session: string | null;
  error?: string;
  /** SSE: the stream ended without `data: [DONE]`. */
  incompleteStream?: boolean;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface ArmReport {
  arm: string;
  requests: number;
  share: number;
  success: number;
  success_rate: number;
  latency_ms: Percentiles;
  ttfb_ms: Percentiles | null;
}

export interface StickyReport {
  /** Distinct sessions that got at least one response with an arm. */
  sessions: number;
  violations: number;
  /** Up to LOADTEST_LIMITS.violationExamples sessions with the arms they saw. */
  examples: { session: string; arms: string[] }[];
}

export interface Tally {
  completed: number;
  succeeded: number;
  failed: number;
  noResponse: number;
  incompleteStreams: number;
  errors: Map<string, number>;
}

const percentile = (sorted: Float64Array, q: number): number | null =>
  sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100 : null;

function percentiles(values: number[]): Percentiles {
  const s = Float64Array.from(values).sort();
  return { p50: percentile(s, 0.5), p95: percentile(s, 0.95), p99: percentile(s, 0.99) };
}

interface ArmAcc {
  requests: number;
  success: number;
  latency: number[];
  ttfb: number[];
}

export class Observations {
  private readonly arms = new Map<string, ArmAcc>();
  /** session → the first arm it saw, or the list once it saw a second. */
  private readonly sessions = new Map<string, string | string[]>();
  private violationCount = 0;
  readonly tally: Tally = { completed: 0, succeeded: 0, failed: 0, noResponse: 0, incompleteStreams: 0, errors: new Map() };

  add(s: Sample): void {
    const t = this.tally;
    t.completed++;
    if (s.ok) t.succeeded++;
    else t.failed++;
    if (s.status === 0) {
      t.noResponse++;
      const key = s.error ?? 'error';
      t.errors.set(key, (t.errors.get(key) ?? 0) + 1);
    }
    if (s.incompleteStream) t.incompleteStreams++;
    let a = this.arms.get(s.arm);
    if (!a) this.arms.set(s.arm, (a = { requests: 0, success: 0, latency: [], ttfb: [] }));
    a.requests++;
    if (s.ok) a.success++;
    if (s.status !== 0) a.latency.push(s.latencyMs);
    if (s.ttfbMs !== null) a.ttfb.push(s.ttfbMs);
    if (s.session !== null && s.arm !== NO_ARM && s.arm !== NO_RESPONSE) this.seeArm(s.session, s.arm);
  }

  private seeArm(session: string, arm: string): void {
    const seen = this.sessions.get(session);
    if (seen === undefined) this.sessions.set(session, arm);
    else if (typeof seen === 'string') {
      if (seen !== arm) {
        this.sessions.set(session, [seen, arm]);
        this.violationCount++;
      }
    } else if (!seen.includes(arm)) seen.push(arm);
  }

  get violations(): number {
    return this.violationCount;
  }

  /** Share of requests per arm so far (for the progress line). */
  shares(): [string, number][] {
    const total = this.tally.completed || 1;
    return [...this.arms.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([arm, a]) => [arm, a.requests / total]);
  }

  armReports(withTtfb: boolean): ArmReport[] {
    const total = this.tally.completed || 1;
    return [...this.arms.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([arm, a]) => ({
        arm,
        requests: a.requests,
        share: round(a.requests / total),
        success: a.success,
        success_rate: round(a.requests ? a.success / a.requests : 0),
        latency_ms: percentiles(a.latency),
        ttfb_ms: withTtfb ? percentiles(a.ttfb) : null,
      }));
  }

  /** Latency percentiles over every response (all arms). */
  overall(): Percentiles {
    return percentiles([...this.arms.values()].flatMap((a) => a.latency));
  }

  sticky(): StickyReport {
    const examples: StickyReport['examples'] = [];
    for (const [session, seen] of this.sessions) {
      if (examples.length >= LOADTEST_LIMITS.violationExamples) break;
      if (typeof seen !== 'string') examples.push({ session, arms: [...seen] });
    }
    return { sessions: this.sessions.size, violations: this.violationCount, examples };
  }
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;
