/**
 * Replay on a full-information outcome file: one JSON object per line,
 * `{"context": {"x-tenant": "gold", ...}, "rewards": {"model-a": 1, "model-b": 0.4}}`
 * — the request's context (header name → value, what the features read) and
 * the reward every arm would have earned. Each policy walks the rows in file
 * order, choosing one arm per row and learning only that arm's reward, so
 * the comparison is exact (no estimator). Beside the policies: the best
 * fixed arm in hindsight and the best arm per context in hindsight (rows
 * grouped by their exact context).
 */
import { err, ok, type Result } from '../../util/errors.js';
import { createRng } from '../../util/rng.js';
import { buildCandidate, candidateIssues, type Context, type PolicySpec } from './candidate.js';
import { jsonLines } from './jsonl.js';

export interface ReplayRow {
  context: Context;
  /** Reward per arm, in `arms` order. */
  rewards: Float64Array;
}

export interface ReplayData {
  arms: string[];
  rows: ReplayRow[];
  contextKeys: string[];
}

export const MAX_REPLAY_ROWS = 5_000_000;

/** Parses the JSONL text; every problem names its line. */
export function parseReplay(text: string): Result<ReplayData, string> {
  const rows: ReplayRow[] = [];
  let arms: string[] | null = null;
  const keys = new Set<string>();
  for (const line of jsonLines(text)) {
    if (line.error !== undefined) return err(line.error);
    const { where, value: v } = line;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return err(`${where}: expected an object with context and rewards`);
    const o = v as Record<string, unknown>;
    const ctxRaw = o.context ?? {};
    if (typeof ctxRaw !== 'object' || ctxRaw === null || Array.isArray(ctxRaw)) return err(`${where}: context: expected an object of header → value`);
    const context: Record<string, string> = {};
    for (const [k, val] of Object.entries(ctxRaw)) {
      if (typeof val !== 'string' && typeof val !== 'number') return err(`${where}: context.${k}: expected a string or number`);
      context[k.toLowerCase()] = String(val);
      keys.add(k.toLowerCase());
    }
    const rw = o.rewards;
    if (typeof rw !== 'object' || rw === null || Array.isArray(rw)) return err(`${where}: rewards: expected an object of arm → reward`);
    const names = Object.keys(rw);
    if (arms === null) {
      if (names.length < 2) return err(`${where}: rewards: need at least two arms`);
      arms = names;
    } else if (names.length !== arms.length || !arms.every((a) => names.includes(a))) {
      return err(`${where}: rewards: arms ${JSON.stringify(names)} differ from the first row's ${JSON.stringify(arms)}`);
    }
    const rewards = new Float64Array(arms.length);
    for (let a = 0; a < arms.length; a++) {
      const r = (rw as Record<string, unknown>)[arms[a]!];
      if (typeof r !== 'number' || !Number.isFinite(r)) return err(`${where}: rewards.${arms[a]}: expected a finite number`);
      rewards[a] = r;
    }
    rows.push({ context, rewards });
    if (rows.length > MAX_REPLAY_ROWS) return err(`more than ${MAX_REPLAY_ROWS} rows`);
  }
  if (arms === null) return err('no rows');
  return ok({ arms, rows, contextKeys: [...keys].sort() });
}

export interface ReplayPolicyResult {
  name: string;
  /** Mean reward per request, averaged over seeds; min and max over seeds. */
  mean: number;
  min: number;
  max: number;
  /** Share of rows per arm (averaged over seeds). */
  shares: number[];
}

export interface ReplayResult {
  rows: number;
  arms: string[];
  contexts: number;
  bestFixed: { arm: string; mean: number };
  perContextOracle: number;
  policies: ReplayPolicyResult[];
}

/** The canonical key of a context: its entries sorted by name. */
export function contextKey(c: Context): string {
  return JSON.stringify(Object.keys(c).sort().map((k) => [k, c[k]]));
}

/** Hindsight references: the best single arm, and the best arm for each distinct context. */
export function hindsight(data: ReplayData): { bestFixed: { arm: string; mean: number }; perContextOracle: number; contexts: number } {
  const k = data.arms.length;
  const totals = new Float64Array(k);
  const byCtx = new Map<string, Float64Array>();
  for (const row of data.rows) {
    const key = contextKey(row.context);
    let t = byCtx.get(key);
    if (!t) byCtx.set(key, (t = new Float64Array(k)));
    for (let a = 0; a < k; a++) {
      totals[a] = totals[a]! + row.rewards[a]!;
      t[a] = t[a]! + row.rewards[a]!;
    }
  }
  let best = 0;
  for (let a = 1; a < k; a++) if (totals[a]! > totals[best]!) best = a;
  let oracle = 0;
  for (const t of byCtx.values()) oracle += Math.max(...t);
  const n = data.rows.length;
  return { bestFixed: { arm: data.arms[best]!, mean: totals[best]! / n }, perContextOracle: oracle / n, contexts: byCtx.size };
}

/** The policies compared when no --policy file is given: the context-free ones and both contextual ones. */
export function defaultReplaySpecs(data: ReplayData): PolicySpec[] {
  const unit = data.rows.every((r) => r.rewards.every((x) => x >= 0 && x <= 1));
  const equal = Object.fromEntries(data.arms.map((a) => [a, 1]));
  return [
    { name: 'static', policy: { type: 'static', weights: equal } },
    { name: 'epsilon_greedy', policy: { type: 'epsilon_greedy', epsilon: 0.1 } },
    { name: 'ucb1', policy: { type: 'ucb1' } },
    { name: 'thompson', policy: { type: 'thompson', model: unit ? 'beta' : 'gaussian' } },
    { name: 'linucb', policy: { type: 'linucb' } },
    { name: 'lints', policy: { type: 'lints' } },
  ];
}

/** Runs every policy over the rows with seeds 1..seeds. Throws nothing: a bad spec is an error value. */
export function runReplay(data: ReplayData, specs: readonly PolicySpec[], seeds: number): Result<ReplayResult, string> {
  const k = data.arms.length;
  const results: ReplayPolicyResult[] = [];
  for (const spec of specs) {
    const means: number[] = [];
    const shares = new Array<number>(k).fill(0);
    for (let seed = 1; seed <= seeds; seed++) {
      const built = buildCandidate(spec, data.arms, data.contextKeys);
      if (!built.ok) return err(candidateIssues(`policy ${spec.name}`, built.error));
      const p = built.value;
      const rng = createRng(seed);
      let total = 0;
      for (const row of data.rows) {
        const a = p.choose(row.context, rng);
        const r = row.rewards[a]!;
        total += r;
        shares[a] = shares[a]! + 1;
        p.observe(row.context, a, r);
      }
      means.push(total / data.rows.length);
    }
    results.push({
      name: spec.name,
      mean: means.reduce((s, x) => s + x, 0) / means.length,
      min: Math.min(...means),
      max: Math.max(...means),
      shares: shares.map((c) => c / (seeds * data.rows.length)),
    });
  }
  const h = hindsight(data);
  return ok({ rows: data.rows.length, arms: data.arms, contexts: h.contexts, bestFixed: h.bestFixed, perContextOracle: h.perContextOracle, policies: results });
}

/** The text table `simulate --replay` prints. */
export function replayTable(r: ReplayResult): string[] {
  const w = Math.max(24, ...r.policies.map((p) => p.name.length + 2));
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
  const out = [
    `replay: ${r.rows} requests, ${r.arms.length} arms (${r.arms.join(', ')}), ${r.contexts} distinct contexts`,
    `${'policy'.padEnd(w)}  reward/req  (min..max over seeds)  vs best fixed  vs per-context oracle`,
  ];
  for (const p of r.policies) {
    out.push(
      `${p.name.padEnd(w)}  ${p.mean.toFixed(4).padStart(10)}  (${p.min.toFixed(4)}..${p.max.toFixed(4)})   ${pct(p.mean / r.bestFixed.mean)}       ${pct(p.mean / r.perContextOracle)}`,
    );
  }
  out.push(`${`best fixed arm (${r.bestFixed.arm})`.padEnd(w)}  ${r.bestFixed.mean.toFixed(4).padStart(10)}  (hindsight)             100.0%       ${pct(r.bestFixed.mean / r.perContextOracle)}`);
  out.push(`${'best arm per context'.padEnd(w)}  ${r.perContextOracle.toFixed(4).padStart(10)}  (hindsight)            ${pct(r.perContextOracle / r.bestFixed.mean)}        100.0%`);
  return out;
}
