/**
 * A synthetic world with three request segments (header x-tenant) whose best
 * arm differs: Bernoulli success probabilities per segment and arm. Its rows
 * are full-information (every arm's reward drawn per request), so the same
 * world serves replay files, "live" runs and logged traffic.
 */
import { createRng, type Rng } from '../../src/util/rng.js';

export const SEGMENT_ARMS = ['model-a', 'model-b', 'model-c'] as const;
export const SEGMENT_P: Record<string, readonly number[]> = {
  gold: [0.9, 0.5, 0.4],
  silver: [0.4, 0.85, 0.5],
  bronze: [0.5, 0.45, 0.8],
};
export const SEGMENTS = Object.keys(SEGMENT_P);

export interface SegmentRow {
  context: Record<string, string>;
  rewards: Record<string, number>;
}

export function segmentRow(rng: Rng, t: number): SegmentRow {
  const seg = SEGMENTS[Math.floor(rng.next() * 3)]!;
  void t;
  const p = SEGMENT_P[seg]!;
  const rewards: Record<string, number> = {};
  SEGMENT_ARMS.forEach((a, i) => (rewards[a] = rng.next() < p[i]! ? 1 : 0));
  return { context: { 'x-tenant': seg }, rewards };
}

export function segmentRows(n: number, seed: number): SegmentRow[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, t) => segmentRow(rng, t));
}

export const toJsonl = (rows: readonly object[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Expected reward of each arm averaged over the (equally likely) segments, and of the per-segment best. */
export const EXPECTED_BEST_FIXED = Math.max(...SEGMENT_ARMS.map((_, i) => SEGMENTS.reduce((s, g) => s + SEGMENT_P[g]![i]!, 0) / 3));
export const EXPECTED_ORACLE = SEGMENTS.reduce((s, g) => s + Math.max(...SEGMENT_P[g]!), 0) / 3;

import { buildCandidate, type PolicySpec } from '../../src/tools/offline/candidate.js';

/**
 * The decision log (decision and reward lines, as the sidecar writes them)
 * of `spec` running live in the segment world for n requests: each decision
 * carries the context, the arm and the propensity the policy gave it.
 */
export function segmentLog(spec: PolicySpec, n: number, seed: number, route = 'chat'): string {
  const arms = [...SEGMENT_ARMS];
  const built = buildCandidate(spec, arms, ['x-tenant']);
  if (!built.ok) throw new Error(JSON.stringify(built.error));
  const p = built.value;
  const rng = createRng(seed + 1000);
  const rows = segmentRows(n, seed);
  const probs = new Float64Array(arms.length);
  const lines: string[] = [];
  rows.forEach((row, i) => {
    p.propensities(row.context, probs);
    const a = p.choose(row.context, rng);
    const id = `d${i}`;
    const reward = row.rewards[arms[a]!]!;
    lines.push(JSON.stringify({ type: 'decision', id, time: 1000 + i, route, arm: arms[a], propensity: probs[a], reason: 'policy', replica: 'r1', context: row.context }));
    lines.push(JSON.stringify({ type: 'reward', id, time: 1000 + i, route, arm: arms[a], reward, source: 'response' }));
    p.observe(row.context, a, reward);
  });
  return lines.join('\n') + '\n';
}
