/** The loadtest's output: the live progress line, the final table, the JSON document and the limit checks. */
import type { RunProgress, RunResult } from './runner.js';
import type { ArmReport, StickyReport } from './stats.js';

export interface Limits {
  maxStickyViolations: number | null;
  maxErrorRate: number | null;
}

export interface LoadtestReport {
  target: string;
  method: string;
  stream: boolean;
  duration_s: number;
  /** Requests sent; `dropped` were due while `concurrency` requests were open and not sent. */
  sent: number;
  dropped: number;
  completed: number;
  achieved_rps: number;
  succeeded: number;
  failed: number;
  error_rate: number;
  /** Requests that got no response, by error (ECONNREFUSED, TIMEOUT, …). */
  transport_errors: Record<string, number>;
  incomplete_streams: number;
  stopped_early: boolean;
  arms: ArmReport[];
  sticky: StickyReport | null;
  limits: { max_sticky_violations: number | null; max_error_rate: number | null; exceeded: string[] };
}

export function buildReport(r: RunResult, o: { target: string; method: string; stream: boolean; sessions: boolean; limits: Limits }): LoadtestReport {
  const t = r.obs.tally;
  const errorRate = t.completed ? t.failed / t.completed : 0;
  const sticky = o.sessions ? r.obs.sticky() : null;
  const exceeded: string[] = [];
  if (o.limits.maxStickyViolations !== null && sticky && sticky.violations > o.limits.maxStickyViolations) {
    exceeded.push(`sticky violations ${sticky.violations} > --max-sticky-violations ${o.limits.maxStickyViolations}`);
  }
  if (o.limits.maxErrorRate !== null && errorRate > o.limits.maxErrorRate) {
    exceeded.push(`error rate ${fmtPct(errorRate)} > --max-error-rate ${fmtPct(o.limits.maxErrorRate)}`);
  }
  const seconds = r.elapsedMs / 1000;
  return {
    target: o.target,
    method: o.method,
    stream: o.stream,
    duration_s: round(seconds, 2),
    sent: r.sent,
    dropped: r.dropped,
    completed: t.completed,
    achieved_rps: round(seconds > 0 ? t.completed / seconds : 0, 1),
    succeeded: t.succeeded,
    failed: t.failed,
    error_rate: round(errorRate, 4),
    transport_errors: Object.fromEntries(t.errors),
    incomplete_streams: t.incompleteStreams,
    stopped_early: r.stopped,
    arms: r.obs.armReports(o.stream),
    sticky,
    limits: { max_sticky_violations: o.limits.maxStickyViolations, max_error_rate: o.limits.maxErrorRate, exceeded },
  };
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;
const fmtPct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const fmtMs = (x: number | null): string => (x === null ? '-' : x < 10 ? x.toFixed(1) : String(Math.round(x)));

export function progressLine(p: RunProgress, plannedMs: number): string {
  const t = p.obs.tally;
  const secs = p.elapsedMs / 1000;
  const shares = p.obs.shares().map(([arm, s]) => `${arm} ${Math.round(s * 100)}%`).join(' ');
  return [
    p.draining ? `[done sending, waiting for ${p.inFlight} open]` : `[${secs.toFixed(0)}s/${Math.round(plannedMs / 1000)}s]`,
    `sent ${p.sent}`,
    `ok ${t.succeeded}`,
    `failed ${t.failed}`,
    p.dropped ? `dropped ${p.dropped}` : '',
    `in flight ${p.inFlight}`,
    `${secs > 0 ? (t.completed / secs).toFixed(0) : 0} rps`,
    shares ? `| ${shares}` : '',
    `| sticky violations ${p.obs.violations}`,
  ].filter((x) => x !== '').join(' ');
}

export function formatReport(r: LoadtestReport): string[] {
  const lines: string[] = [];
  lines.push(`${r.method} ${r.target}: ${r.completed} requests in ${r.duration_s}s (${r.achieved_rps} rps), ${r.succeeded} ok, ${r.failed} failed (${fmtPct(r.error_rate)})${r.dropped ? `, ${r.dropped} not sent (concurrency limit)` : ''}${r.stopped_early ? ', stopped early' : ''}`);
  const errs = Object.entries(r.transport_errors);
  if (errs.length) lines.push(`no response: ${errs.map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  if (r.incomplete_streams) lines.push(`streams that ended without data: [DONE]: ${r.incomplete_streams}`);
  lines.push('');
  const head = ['arm', 'requests', 'share', 'success', 'p50 ms', 'p95 ms', 'p99 ms', ...(r.stream ? ['ttfb p50', 'ttfb p95', 'ttfb p99'] : [])];
  const rows = r.arms.map((a) => [
    a.arm,
    String(a.requests),
    fmtPct(a.share),
    fmtPct(a.success_rate),
    fmtMs(a.latency_ms.p50),
    fmtMs(a.latency_ms.p95),
    fmtMs(a.latency_ms.p99),
    ...(a.ttfb_ms ? [fmtMs(a.ttfb_ms.p50), fmtMs(a.ttfb_ms.p95), fmtMs(a.ttfb_ms.p99)] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(fmt(head), ...rows.map(fmt));
  lines.push('');
  if (r.sticky) {
    lines.push(`sticky sessions: ${r.sticky.sessions} sessions, ${r.sticky.violations} saw more than one arm`);
    for (const e of r.sticky.examples) lines.push(`  ${e.session}: ${e.arms.join(' → ')}`);
  } else lines.push('sticky sessions: not checked (no sessions)');
  for (const e of r.limits.exceeded) lines.push(`LIMIT EXCEEDED: ${e}`);
  return lines;
}
