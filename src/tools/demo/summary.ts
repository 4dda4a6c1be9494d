/** The machine-readable outcome of a demo run (summary.json) and its text form. */
import type { ArmProfile } from './defaults.js';
import type { LoadKind, LoadResult } from './load.js';
import type { ProcessReport } from './procs.js';
import { percentile, type ArmTally } from './timeline.js';

export interface ArmOutcome {
  requests: number;
  /** Of the phase's requests. */
  share: number;
  error_rate: number | null;
  p95_ms: number | null;
  /** Mean reward as the sidecars computed it (envoy_bandit_reward_sum / _count, source=response). */
  reward_mean: number | null;
  cost: number;
  cost_per_request: number | null;
}

export interface PhaseOutcome {
  policy: string;
  duration_s: number;
  requests: number;
  rps: number;
  reward_mean: number | null;
  error_rate: number | null;
  p95_ms: number | null;
  cost_per_request: number | null;
  arms: Record<string, ArmOutcome>;
  /** What the load generator saw (end to end through Envoy). */
  client: LoadResult;
  failure_at_s: number | null;
}

export interface DemoSummary {
  version: 1;
  ok: boolean;
  error: string | null;
  started_at: string;
  finished_at: string;
  settings: {
    duration_s: number;
    bandit_s: number;
    static_s: number;
    rps: number;
    replicas: number;
    seed: number;
    load_generator: LoadKind;
    baseline: string;
  };
  arms: Array<{ name: string; cluster: string; cost: number; error_rate: number; latency_ms: number; description: string }>;
  failure: { arm: string; at_s: number; error_rate: number; latency_ms: number } | null;
  quarantine: {
    arm: string;
    /** Seconds after the bandit phase started. */
    at_s: number;
    /** From the failure to the first quarantine flag (the guardrail's own timestamp from /v1/routes). */
    after_failure_s: number;
    rules: string[];
    /** Each replica's state for the arm at the end of the bandit phase. */
    final_state: Record<string, string>;
  } | null;
  best_arm: {
    name: string;
    /** The policy's share at the end of the bandit phase (mean over replicas). */
    final_share: number;
    /** The same, among arms that were not quarantined. */
    final_share_among_healthy: number;
    /** Measured at the backends over the last seconds of the bandit phase. */
    measured_share_last_5s: number;
  } | null;
  phases: { bandit: PhaseOutcome | null; static: PhaseOutcome | null };
  comparison: { reward_gain: number | null; error_rate_change: number | null; p95_change_ms: number | null; cost_per_request_change: number | null } | null;
  /** Rewards in each phase's aggregator log (read from its /v1/summary after the sidecars drained). */
  aggregator: { rewards_logged: Record<'bandit' | 'static', number | null> };
  processes: ProcessReport[];
  orphans: number;
  files: { out: string; report: string; timeline: string; summary: string; run_dir: string };
}

const round = (x: number | null, digits = 4): number | null => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** digits) / 10 ** digits);

export function phaseOutcome(o: {
  policy: string;
  durationMs: number;
  arms: readonly ArmProfile[];
  tallies: Record<string, ArmTally>;
  rewards: Record<string, [number, number]>;
  client: LoadResult;
  failureAtS: number | null;
}): PhaseOutcome {
  const total = o.arms.reduce((t, a) => t + o.tallies[a.name]!.requests, 0);
  const arms: Record<string, ArmOutcome> = {};
  let errors = 0;
  let cost = 0;
  let rSum = 0;
  let rCount = 0;
  const all: number[] = [];
  for (const a of o.arms) {
    const t = o.tallies[a.name]!;
    const [s, c] = o.rewards[a.name] ?? [0, 0];
    errors += t.errors;
    cost += t.requests * a.cost;
    rSum += s;
    rCount += c;
    for (const l of t.latencies) all.push(l);
    arms[a.name] = {
      requests: t.requests,
      share: round(total ? t.requests / total : 0)!,
      error_rate: round(t.requests ? t.errors / t.requests : null),
      p95_ms: percentile(t.latencies, 0.95),
      reward_mean: round(c ? s / c : null),
      cost: round(t.requests * a.cost, 2)!,
      cost_per_request: t.requests ? a.cost : null,
    };
  }
  return {
    policy: o.policy,
    duration_s: round(o.durationMs / 1000, 1)!,
    requests: total,
    rps: round(total / (o.durationMs / 1000), 1)!,
    reward_mean: round(rCount ? rSum / rCount : null),
    error_rate: round(total ? errors / total : null),
    p95_ms: percentile(all, 0.95),
    cost_per_request: round(total ? cost / total : null),
    arms,
    client: o.client,
    failure_at_s: o.failureAtS === null ? null : round(o.failureAtS, 2),
  };
}

export function compare(bandit: PhaseOutcome | null, base: PhaseOutcome | null): DemoSummary['comparison'] {
  if (!bandit || !base) return null;
  const diff = (a: number | null, b: number | null, digits = 4) => (a === null || b === null ? null : round(a - b, digits));
  return {
    reward_gain: diff(bandit.reward_mean, base.reward_mean),
    error_rate_change: diff(bandit.error_rate, base.error_rate),
    p95_change_ms: diff(bandit.p95_ms, base.p95_ms, 1),
    cost_per_request_change: diff(bandit.cost_per_request, base.cost_per_request),
  };
}

const pct = (x: number | null) => (x === null ? '   -  ' : `${(x * 100).toFixed(1).padStart(5)}%`);
const num = (x: number | null, d = 3) => (x === null ? '  -  ' : x.toFixed(d));
const ms = (x: number | null) => (x === null ? '   -  ' : `${Math.round(x)} ms`.padStart(7));

function phaseLines(name: string, p: PhaseOutcome): string[] {
  const lines = [`${name} (${p.policy}, ${p.duration_s}s, ${p.requests} requests, ${p.rps} rps)`];
  lines.push('  arm        share   reward  errors    p95      cost/req');
  for (const [arm, a] of Object.entries(p.arms)) {
    lines.push(`  ${arm.padEnd(9)} ${pct(a.share)}  ${num(a.reward_mean)}  ${pct(a.error_rate)}  ${ms(a.p95_ms)}  ${num(a.cost_per_request, 2)}`);
  }
  lines.push(`  ${'overall'.padEnd(9)} ${pct(1)}  ${num(p.reward_mean)}  ${pct(p.error_rate)}  ${ms(p.p95_ms)}  ${num(p.cost_per_request, 2)}`);
  lines.push(`  client (wrk/node, through Envoy): ${p.client.requests} requests, ${p.client.non2xx} non-2xx, ${p.client.socketErrors} socket errors, p95 ${ms(p.client.p95Ms).trim()}`);
  return lines;
}

/** The human summary printed at the end. */
export function summaryLines(s: DemoSummary): string[] {
  const out: string[] = ['', '=== envoy-bandit demo: summary ==='];
  if (s.error) out.push(`run failed: ${s.error}`);
  out.push(`load generator: ${s.settings.load_generator}; ${s.settings.replicas} sidecar replicas (one Envoy each), aggregator, 3 simulated backends`);
  if (s.phases.bandit) out.push(...phaseLines('bandit phase', s.phases.bandit));
  if (s.phases.static) out.push(...phaseLines('baseline phase', s.phases.static));
  out.push(`baseline: ${s.settings.baseline}`);
  if (s.failure) out.push(`failure: ${s.failure.arm} error rate -> ${pct(s.failure.error_rate).trim()}, latency ~${s.failure.latency_ms} ms at t=${s.failure.at_s.toFixed(1)}s of each phase`);
  if (s.quarantine) {
    out.push(`quarantine: ${s.quarantine.arm} at t=${s.quarantine.at_s.toFixed(1)}s, ${s.quarantine.after_failure_s.toFixed(1)}s after the failure (rules: ${s.quarantine.rules.join(', ') || '-'})`);
  } else if (s.failure) {
    out.push(`quarantine: ${s.failure.arm} was NOT quarantined during the bandit phase`);
  }
  if (s.best_arm) {
    out.push(`best healthy arm ${s.best_arm.name}: final policy share ${pct(s.best_arm.final_share).trim()} (${pct(s.best_arm.final_share_among_healthy).trim()} of healthy arms), measured ${pct(s.best_arm.measured_share_last_5s).trim()} over the last 5 s`);
  }
  if (s.comparison) {
    const c = s.comparison;
    out.push(
      `bandit vs baseline: reward ${c.reward_gain === null ? '-' : (c.reward_gain >= 0 ? '+' : '') + c.reward_gain.toFixed(3)}, ` +
        `error rate ${c.error_rate_change === null ? '-' : (c.error_rate_change >= 0 ? '+' : '') + (c.error_rate_change * 100).toFixed(1) + ' pts'}, ` +
        `p95 ${c.p95_change_ms === null ? '-' : (c.p95_change_ms >= 0 ? '+' : '') + Math.round(c.p95_change_ms) + ' ms'}, ` +
        `cost/request ${c.cost_per_request_change === null ? '-' : (c.cost_per_request_change >= 0 ? '+' : '') + c.cost_per_request_change.toFixed(3)}`,
    );
  }
  const logged = s.aggregator.rewards_logged;
  out.push(`aggregator: ${logged.bandit ?? '-'} rewards logged in the bandit phase, ${logged.static ?? '-'} in the baseline`);
  const gone = s.processes.filter((p) => p.gone).length;
  out.push(`processes: ${s.processes.length} started, ${gone} stopped, ${s.orphans} left running${s.orphans ? ' (ORPHANS: ' + s.processes.filter((p) => !p.gone).map((p) => `${p.role}:${p.pid}`).join(', ') + ')' : ''}`);
  out.push(`report: ${s.files.report}`, `timeline: ${s.files.timeline}`, `summary: ${s.files.summary}`);
  return out;
}
