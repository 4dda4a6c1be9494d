/**
 * Reports of a simulation: a text table per scenario (CLI), results.csv, and a
 * self-contained report.html (inline SVG, no scripts, no external fetches).
 */
import { CURVE_POINTS, RECOVERY_SHARE, RECOVERY_WINDOW_MS, TAIL_FRACTION } from './simulator.js';
import { DRIFT_AWARE } from './policies.js';
import type { PolicySummary, ScenarioResult, Stat } from './summary.js';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const pm = (s: Stat, digits = 0) => `${s.mean.toFixed(digits)} ±${s.std.toFixed(digits)}`;

export function recoveryText(p: PolicySummary): string {
  if (!p.hasEvent) return '-';
  if (p.recoveryS === null) return 'never';
  const base = `${p.recoveryS.mean.toFixed(1)}s ±${p.recoveryS.std.toFixed(1)}`;
  return p.recoveryNever > 0 ? `${base} (${p.recoveryNever}/${p.seeds} never)` : base;
}

export const TABLE_HEADER = ['policy', 'reward', 'regret', 'best arm', `best, last ${TAIL_FRACTION * 100}%`, 'time to <10%'];

export function tableRows(r: ScenarioResult): string[][] {
  return r.policies.map((p) => [p.policy, pm(p.reward), pm(p.regret), pct(p.bestShare.mean), pct(p.bestShareTail.mean), recoveryText(p)]);
}

/** Fixed-width text table with a title line. */
export function textTable(r: ScenarioResult): string[] {
  const s = r.scenario;
  const first = r.policies[0];
  const rows = [TABLE_HEADER, ...tableRows(r)];
  const widths = TABLE_HEADER.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [
    `== ${s.name}: ${s.description}`,
    `   ${first?.requests ?? 0} requests over ${r.durationS}s, ${first?.seeds ?? 0} seeds, mean ±sd` +
      (s.event ? `; time to <${RECOVERY_SHARE * 100}% counted from ${s.event.at}s (arm ${s.event.arm})` : ''),
    line(rows[0]!),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
  ];
}

/** Markdown table of one scenario (docs). */
export function markdownTable(r: ScenarioResult): string[] {
  const rows = tableRows(r);
  return [`| ${TABLE_HEADER.join(' | ')} |`, `|${TABLE_HEADER.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)];
}

const CSV_HEADER = [
  'scenario', 'policy', 'seeds', 'requests',
  ...['reward', 'regret', 'best_share', 'best_share_tail', 'recovery_s'].flatMap((m) => [`${m}_mean`, `${m}_std`, `${m}_min`, `${m}_max`]),
  'recovery_never',
];

const num = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : String(Number(x.toPrecision(10))));
const stat4 = (s: Stat | null) => (s ? [num(s.mean), num(s.std), num(s.min), num(s.max)] : ['', '', '', '']);
const csvCell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function resultsCsv(results: readonly ScenarioResult[]): string {
  const lines = [CSV_HEADER.join(',')];
  for (const r of results) {
    for (const p of r.policies) {
      lines.push(
        [
          p.scenario, p.policy, String(p.seeds), String(p.requests),
          ...stat4(p.reward), ...stat4(p.regret), ...stat4(p.bestShare), ...stat4(p.bestShareTail), ...stat4(p.recoveryS),
          p.hasEvent ? String(p.recoveryNever) : '',
        ].map(csvCell).join(','),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The issue's target, per scenario: the best drift-aware policy's mean regret
 * against static A/B and epsilon-greedy (0.1), when all three were run.
 */
export interface TargetRow {
  scenario: string;
  best: string;
  bestRegret: number;
  staticRegret: number;
  epsilonRegret: number;
}

export function targetRows(results: readonly ScenarioResult[]): TargetRow[] {
  const out: TargetRow[] = [];
  for (const r of results) {
    const by = new Map(r.policies.map((p) => [p.policy, p.regret.mean]));
    const drift = r.policies.filter((p) => DRIFT_AWARE.has(p.policy)).sort((a, b) => a.regret.mean - b.regret.mean)[0];
    const st = by.get('static');
    const eg = by.get('epsilon_greedy');
    if (drift && st !== undefined && eg !== undefined) {
      out.push({ scenario: r.scenario.name, best: drift.policy, bestRegret: drift.regret.mean, staticRegret: st, epsilonRegret: eg });
    }
  }
  return out;
}

/** One drift-aware policy across the whole suite: total regret of each drift-aware policy, lowest first. */
export function suiteTotals(results: readonly ScenarioResult[]): Array<{ policy: string; total: number }> {
  const totals = new Map<string, number>();
  for (const r of results) for (const p of r.policies) totals.set(p.policy, (totals.get(p.policy) ?? 0) + p.regret.mean);
  return [...totals].map(([policy, total]) => ({ policy, total })).sort((a, b) => a.total - b.total);
}

// ---------- HTML ----------

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const PALETTE = [
  '#000000', '#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6',
  '#9a6324', '#469990', '#808000', '#800000', '#000075', '#a9a9a9', '#bfef45', '#fabed4',
];

const CHART = { w: 760, h: 320, left: 64, right: 200, top: 16, bottom: 40 };

/** Cumulative regret over simulated time, one line per policy. */
export function regretChart(r: ScenarioResult): string {
  const { w, h, left, right, top, bottom } = CHART;
  const pw = w - left - right;
  const ph = h - top - bottom;
  const maxY = Math.max(1, ...r.policies.flatMap((p) => p.curve));
  const x = (i: number) => left + (pw * (i + 1)) / CURVE_POINTS;
  const y = (v: number) => top + ph - (ph * v) / maxY;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="cumulative regret, ${esc(r.scenario.name)}">`);
  parts.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="#fff" stroke="#ccc"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (maxY * k) / 4;
    const yy = y(v).toFixed(1);
    parts.push(`<line x1="${left}" x2="${left + pw}" y1="${yy}" y2="${yy}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${yy}" font-size="11" text-anchor="end" dominant-baseline="middle">${v.toFixed(0)}</text>`);
    const t = (r.durationS * k) / 4;
    const xx = (left + (pw * k) / 4).toFixed(1);
    parts.push(`<text x="${xx}" y="${top + ph + 16}" font-size="11" text-anchor="middle">${t.toFixed(0)}s</text>`);
  }
  if (r.scenario.event) {
    const ex = (left + (pw * r.scenario.event.at) / r.durationS).toFixed(1);
    parts.push(`<line x1="${ex}" x2="${ex}" y1="${top}" y2="${top + ph}" stroke="#c00" stroke-dasharray="4 3"/>`);
  }
  parts.push(`<text x="${left + pw / 2}" y="${h - 6}" font-size="12" text-anchor="middle">simulated time</text>`);
  parts.push(`<text x="14" y="${top + ph / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${top + ph / 2})">cumulative regret</text>`);
  r.policies.forEach((p, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const dash = i >= PALETTE.length ? ' stroke-dasharray="5 3"' : '';
    const pts = [`${left},${y(0).toFixed(1)}`, ...p.curve.map((v, j) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`)].join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6"${dash} points="${pts}"><title>${esc(p.policy)}</title></polyline>`);
    const ly = top + 10 + i * 16;
    parts.push(`<line x1="${left + pw + 12}" x2="${left + pw + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${left + pw + 38}" y="${ly}" font-size="11" dominant-baseline="middle">${esc(p.policy)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function reportHtml(results: readonly ScenarioResult[], meta: { seeds: number; generated: string }): string {
  const sections = results.map((r) => {
    const rows = tableRows(r)
      .map((row) => `<tr>${row.map((c, i) => (i === 0 ? `<th scope="row">${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`)
      .join('\n');
    const s = r.scenario;
    return `<section>
<h2>${esc(s.name)}</h2>
<p>${esc(s.description)}${s.event ? ` — event at ${s.event.at}s on arm ${esc(s.event.arm)} (red line)` : ''}</p>
${regretChart(r)}
<table><thead><tr>${TABLE_HEADER.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>
<tbody>
${rows}
</tbody></table>
</section>`;
  });
  const target = targetRows(results);
  const targetHtml = target.length
    ? `<h2>Target: best drift-aware policy vs static A/B and epsilon-greedy</h2>
<table><thead><tr><th>scenario</th><th>best drift-aware</th><th>its regret</th><th>÷ static</th><th>÷ epsilon-greedy</th></tr></thead><tbody>
${target
  .map((t) => `<tr><th scope="row">${esc(t.scenario)}</th><td>${esc(t.best)}</td><td>${t.bestRegret.toFixed(0)}</td><td>${(t.bestRegret / t.staticRegret).toFixed(2)}</td><td>${(t.bestRegret / t.epsilonRegret).toFixed(2)}</td></tr>`)
  .join('\n')}
</tbody></table>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>envoy-bandit simulation</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:0.5rem 0 2rem}th,td{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}
th[scope=row],thead th:first-child{text-align:left}section{margin-bottom:2rem}
</style></head><body>
<h1>envoy-bandit simulation</h1>
<p>${meta.seeds} seeds per policy; mean ±sd over seeds. Regret is against an oracle that knows every arm's expected reward at every moment.
"time to &lt;10%": from the scenario's event until the affected arm's share of the decisions in the trailing ${RECOVERY_WINDOW_MS / 1000}s falls below ${RECOVERY_SHARE * 100}%.
Generated ${esc(meta.generated)}.</p>
${targetHtml}
${sections.join('\n')}
</body></html>
`;
}
