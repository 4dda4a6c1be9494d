/** report.html: self-contained (inline SVG and CSS, no scripts, no network), one section per phase. */
import { DEMO_ARMS } from './defaults.js';
import type { DemoSummary, PhaseOutcome } from './summary.js';
import type { TimelineRow } from './timeline.js';

const COLORS: Record<string, string> = { 'model-a': '#1f77b4', 'model-b': '#2ca02c', 'model-c': '#ff7f0e' };
const W = 880;
const H = 240;
const PAD = { l: 48, r: 170, t: 16, b: 32 };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const colorOf = (arm: string, i: number) => COLORS[arm] ?? ['#9467bd', '#8c564b', '#e377c2'][i % 3]!;

interface Series {
  label: string;
  color: string;
  points: Array<[number, number | null]>;
  dashed?: boolean;
  width?: number;
}

interface Marker {
  x: number;
  label: string;
  color: string;
}

/** A line chart over [0, xMax] x [0, 1]. */
export function lineChart(title: string, xMax: number, series: readonly Series[], markers: readonly Marker[]): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const sx = (x: number) => PAD.l + (Math.min(Math.max(x, 0), xMax) / Math.max(xMax, 1e-9)) * iw;
  const sy = (y: number) => PAD.t + (1 - Math.min(Math.max(y, 0), 1)) * ih;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`];
  parts.push(`<rect x="${PAD.l}" y="${PAD.t}" width="${iw}" height="${ih}" fill="#fafafa" stroke="#ccc"/>`);
  for (const y of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${PAD.l}" x2="${PAD.l + iw}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${PAD.l - 6}" y="${sy(y) + 4}" font-size="11" text-anchor="end">${Math.round(y * 100)}%</text>`);
  }
  const step = xMax > 40 ? 10 : 5;
  for (let x = 0; x <= xMax + 1e-9; x += step) parts.push(`<text x="${sx(x)}" y="${H - PAD.b + 16}" font-size="11" text-anchor="middle">${x}s</text>`);
  for (const m of markers) {
    parts.push(`<line x1="${sx(m.x)}" x2="${sx(m.x)}" y1="${PAD.t}" y2="${PAD.t + ih}" stroke="${m.color}" stroke-width="2" stroke-dasharray="6 3"/>`);
    parts.push(`<text x="${sx(m.x) + 4}" y="${PAD.t + 12}" font-size="11" fill="${m.color}">${esc(m.label)}</text>`);
  }
  series.forEach((s, i) => {
    let d = '';
    let pen = false;
    for (const [x, y] of s.points) {
      if (y === null) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
      pen = true;
    }
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    parts.push(`<line x1="${W - PAD.r + 10}" x2="${W - PAD.r + 28}" y1="${PAD.t + 14 + i * 16}" y2="${PAD.t + 14 + i * 16}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    parts.push(`<text x="${W - PAD.r + 32}" y="${PAD.t + 18 + i * 16}" font-size="11">${esc(s.label)}</text>`);
  });
  parts.push(`<text x="${PAD.l}" y="${H - 2}" font-size="11" fill="#555">${esc(title)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

function phaseCharts(phase: string, rows: readonly TimelineRow[], xMax: number, markers: Marker[]): string {
  const mine = rows.filter((r) => r.phase === phase);
  if (!mine.length) return '<p>No data for this phase.</p>';
  const arms = DEMO_ARMS.map((a) => a.name);
  const share: Series[] = arms.map((arm, i) => ({ label: `${arm} traffic`, color: colorOf(arm, i), points: mine.filter((r) => r.arm === arm).map((r) => [r.t_s, r.traffic_share]) }));
  const policy: Series[] = arms.map((arm, i) => ({ label: `${arm} policy`, color: colorOf(arm, i), dashed: true, width: 1, points: mine.filter((r) => r.arm === arm).map((r) => [r.t_s, r.policy_share]) }));
  const times = [...new Set(mine.map((r) => r.t_s))].sort((a, b) => a - b);
  const overall: Series = {
    label: 'overall',
    color: '#222',
    width: 3,
    points: times.map((t) => {
      const at = mine.filter((r) => r.t_s === t && r.reward_mean !== null && r.rewards > 0);
      const n = at.reduce((s, r) => s + r.rewards, 0);
      return [t, n ? at.reduce((s, r) => s + r.reward_mean! * r.rewards, 0) / n : null];
    }),
  };
  const perArm: Series[] = arms.map((arm, i) => ({ label: arm, color: colorOf(arm, i), width: 1, points: mine.filter((r) => r.arm === arm).map((r) => [r.t_s, r.reward_mean]) }));
  return (
    lineChart('traffic share per arm (solid: measured at the backends per second; dashed: policy share)', xMax, [...share, ...policy], markers) +
    lineChart('mean reward per second (as the sidecars computed it)', xMax, [overall, ...perArm], markers)
  );
}

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
const fix = (x: number | null, d = 3) => (x === null ? '-' : x.toFixed(d));
const msStr = (x: number | null) => (x === null ? '-' : `${Math.round(x)} ms`);

function phaseTable(p: PhaseOutcome): string {
  const rows = Object.entries(p.arms).map(
    ([arm, a]) => `<tr><td>${esc(arm)}</td><td>${a.requests}</td><td>${pct(a.share)}</td><td>${fix(a.reward_mean)}</td><td>${pct(a.error_rate)}</td><td>${msStr(a.p95_ms)}</td><td>${fix(a.cost, 1)}</td></tr>`,
  );
  rows.push(`<tr class="total"><td>overall</td><td>${p.requests}</td><td>100%</td><td>${fix(p.reward_mean)}</td><td>${pct(p.error_rate)}</td><td>${msStr(p.p95_ms)}</td><td>${fix(p.cost_per_request, 3)} / req</td></tr>`);
  return `<table><thead><tr><th>arm</th><th>requests</th><th>share</th><th>reward</th><th>errors</th><th>p95</th><th>cost</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export function reportHtml(s: DemoSummary, rows: readonly TimelineRow[]): string {
  const sections: string[] = [];
  const bandit = s.phases.bandit;
  if (bandit) {
    const markers: Marker[] = [];
    if (s.failure) markers.push({ x: s.failure.at_s, label: `${s.failure.arm} fails`, color: '#d62728' });
    if (s.quarantine) markers.push({ x: s.quarantine.at_s, label: 'quarantined', color: '#9467bd' });
    sections.push(`<h2>Bandit phase: ${esc(bandit.policy)}</h2>${phaseCharts('bandit', rows, s.settings.bandit_s, markers)}${phaseTable(bandit)}`);
  }
  const base = s.phases.static;
  if (base) {
    const markers: Marker[] = base.failure_at_s !== null && s.failure ? [{ x: base.failure_at_s, label: `${s.failure.arm} fails`, color: '#d62728' }] : [];
    sections.push(`<h2>Baseline phase: ${esc(base.policy)}</h2>${phaseCharts('static', rows, s.settings.static_s, markers)}${phaseTable(base)}`);
  }
  const facts: string[] = [];
  if (s.failure) facts.push(`<li>${esc(s.failure.arm)} starts failing at t=${s.failure.at_s}s (error rate ${pct(s.failure.error_rate)}, latency ~${s.failure.latency_ms} ms).</li>`);
  facts.push(
    s.quarantine
      ? `<li>Guardrail quarantined ${esc(s.quarantine.arm)} at t=${s.quarantine.at_s}s: <b>${s.quarantine.after_failure_s}s after the failure</b> (rules: ${esc(s.quarantine.rules.join(', '))}).</li>`
      : '<li>No quarantine was observed.</li>',
  );
  if (s.best_arm) facts.push(`<li>Best healthy arm ${esc(s.best_arm.name)}: final policy share ${pct(s.best_arm.final_share)} (${pct(s.best_arm.final_share_among_healthy)} of healthy arms), measured ${pct(s.best_arm.measured_share_last_5s)} over the last 5 s.</li>`);
  if (s.comparison) {
    const c = s.comparison;
    facts.push(`<li>Bandit vs static: reward ${fix(c.reward_gain)} , error rate ${c.error_rate_change === null ? '-' : (c.error_rate_change * 100).toFixed(1) + ' pts'}, p95 ${msStr(c.p95_change_ms)}, cost/request ${fix(c.cost_per_request_change)}.</li>`);
  }
  facts.push(`<li>Processes: ${s.processes.length} started, ${s.orphans} left running.</li>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>envoy-bandit demo report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:980px;margin:24px auto;padding:0 16px;color:#222}
table{border-collapse:collapse;margin:8px 0 24px}td,th{border:1px solid #ddd;padding:4px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}tr.total{font-weight:600}svg{display:block;margin:8px 0}
code{background:#f3f3f3;padding:1px 4px}
</style></head><body>
<h1>envoy-bandit demo report</h1>
<p>${s.settings.replicas} sidecar replicas (one Envoy each), an aggregator and three simulated model backends, ${s.settings.rps} requests/s from <code>${esc(s.settings.load_generator)}</code> with sticky <code>x-session-id</code> sessions. Started ${esc(s.started_at)}.${s.error ? ` <b>Run error: ${esc(s.error)}</b>` : ''}</p>
<ul>${facts.join('')}</ul>
<p>Baseline: ${esc(s.settings.baseline)}.</p>
${sections.join('\n')}
<p>Raw data: <code>timeline.csv</code> (one row per second and arm), <code>summary.json</code>; configs and logs of every process in <code>run/</code>.</p>
</body></html>
`;
}
