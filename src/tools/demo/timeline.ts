/** Per-second rows (one per arm) and the per-phase tallies the summary is built from. */
import type { Served } from './backends.js';
import type { Phase } from './configs.js';
import type { ReplicaView } from './observe.js';

export interface TimelineRow {
  phase: Phase;
  /** Seconds since the phase's load started. */
  t_s: number;
  arm: string;
  requests: number;
  errors: number;
  /** Served by the arm in this interval / served by all arms. */
  traffic_share: number;
  /** The policy's share for new decisions (mean over replicas). */
  policy_share: number;
  posterior_mean: number;
  /** Mean reward the sidecars computed in this interval (null: no rewards). */
  reward_mean: number | null;
  /** Rewards behind reward_mean. */
  rewards: number;
  p95_ms: number | null;
  state: string;
}

export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface ArmTally {
  requests: number;
  errors: number;
  latencies: number[];
}

export const emptyTally = (): ArmTally => ({ requests: 0, errors: 0, latencies: [] });

export function addServed(t: ArmTally, served: readonly Served[]): void {
  for (const s of served) {
    t.requests++;
    if (s.status >= 500) t.errors++;
    t.latencies.push(s.latencyMs);
  }
}

/** Sums reward counters over replicas, keeping the last good reading of a replica that did not answer. */
export class RewardCounters {
  private readonly last = new Map<string, Record<string, [number, number]>>();

  update(views: ReadonlyArray<{ key: string; view: ReplicaView | null }>): void {
    for (const { key, view } of views) if (view) this.last.set(key, view.rewards);
  }

  totals(arms: readonly string[]): Record<string, [number, number]> {
    const out: Record<string, [number, number]> = {};
    for (const a of arms) out[a] = [0, 0];
    for (const r of this.last.values()) {
      for (const a of arms) {
        const v = r[a];
        if (v) {
          out[a]![0] += v[0];
          out[a]![1] += v[1];
        }
      }
    }
    return out;
  }
}

export function timelineCsv(rows: readonly TimelineRow[]): string {
  const cols: (keyof TimelineRow)[] = ['phase', 't_s', 'arm', 'requests', 'errors', 'traffic_share', 'policy_share', 'posterior_mean', 'reward_mean', 'rewards', 'p95_ms', 'state'];
  const fmt = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'number' ? String(Math.round(v * 10_000) / 10_000) : String(v));
  return [cols.join(','), ...rows.map((r) => cols.map((c) => fmt(r[c])).join(','))].join('\n') + '\n';
}
