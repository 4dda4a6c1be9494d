/** The live view: a table redrawn in place on a terminal, plain progress lines otherwise. */
import type { TimelineRow } from './timeline.js';

export interface TickView {
  phase: string;
  elapsedS: number;
  totalS: number;
  rps: number;
  rows: readonly TimelineRow[];
  replicasAnswering: number;
  replicas: number;
  events: readonly string[];
}

const pct = (x: number | null) => (x === null || !Number.isFinite(x) ? '    -' : `${(x * 100).toFixed(0).padStart(4)}%`);
const msStr = (x: number | null) => (x === null ? '     -' : `${Math.round(x)}ms`.padStart(6));

function bar(share: number, width = 20): string {
  const n = Math.max(0, Math.min(width, Math.round(share * width)));
  return '█'.repeat(n) + '·'.repeat(width - n);
}

export function tableLines(v: TickView): string[] {
  const head = `[${v.phase}] ${v.elapsedS.toFixed(0).padStart(3)}s / ${v.totalS.toFixed(0)}s  ${v.rps.toFixed(0).padStart(4)} req/s  replicas answering ${v.replicasAnswering}/${v.replicas}`;
  const lines = [head, '  arm       traffic (last 1s)          policy  success    p95   mean   state'];
  for (const r of v.rows) {
    const success = r.requests ? 1 - r.errors / r.requests : null;
    lines.push(
      `  ${r.arm.padEnd(9)} ${bar(r.traffic_share)} ${pct(r.traffic_share)}  ${pct(r.policy_share)}   ${pct(success)}  ${msStr(r.p95_ms)}  ${r.posterior_mean.toFixed(2)}   ${r.state}`,
    );
  }
  lines.push(`  events: ${v.events.length ? v.events.slice(-2).join(' | ') : '-'}`);
  return lines;
}

/** One line per tick for logs and CI. */
export function plainLine(v: TickView): string {
  const arms = v.rows
    .map((r) => `${r.arm} ${pct(r.traffic_share).trim()} ok=${pct(r.requests ? 1 - r.errors / r.requests : null).trim()} p95=${msStr(r.p95_ms).trim()}${r.state !== 'active' ? ` ${r.state.toUpperCase()}` : ''}`)
    .join('  ');
  return `[${v.phase} ${v.elapsedS.toFixed(0)}s/${v.totalS.toFixed(0)}s ${v.rps.toFixed(0)} rps] ${arms}`;
}

/** Redraws in place on a TTY: moves the cursor up over the previous table and clears below. */
export class LiveTable {
  private drawn = 0;
  constructor(private readonly write: (line: string) => void, private readonly tty: boolean) {}

  show(v: TickView): void {
    if (!this.tty) {
      this.write(plainLine(v));
      return;
    }
    const lines = tableLines(v);
    const up = this.drawn ? `\x1b[${this.drawn}F\x1b[J` : '';
    this.write(up + lines.join('\n'));
    this.drawn = lines.length;
  }

  /** Leaves the last table on screen; the next output starts below it. */
  release(): void {
    this.drawn = 0;
  }

  note(line: string): void {
    this.write(line);
    this.drawn = 0;
  }
}
