/**
 * Sticky-session memory: RSS of a process holding 1,000,000 sessions, each
 * decided through the real engine (session header → hashed key → rendezvous →
 * table), side by side with the previous design (an lru-cache of raw session
 * key → arm name, what `sticky.max_sessions` used to bound). Each variant runs
 * in its own Node process (`--expose-gc`, pinned to its own CPU with taskset
 * when available), rounds interleaved, medians reported. Target: ≤ 250 MB RSS.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import { parseConfig } from '../src/config/load.js';
import { Engine } from '../src/engine/engine.js';
import type { HeaderList } from '../src/extproc/handler.js';
import { DecisionIdCodec } from '../src/reward/decision-id.js';
import { ReplicaState, routeShapes } from '../src/state/replica-state.js';
import { PinCodec } from '../src/sticky/pin.js';
import { systemClock } from '../src/util/clock.js';
import { createRng } from '../src/util/rng.js';
import { runIfMain } from './main.js';

export const STICKY_SESSIONS = 1_000_000;
export const STICKY_RSS_TARGET_MB = 250;
const ROUNDS = 3;
const MB = 1024 * 1024;

type Variant = 'table' | 'lru';

interface ChildResult {
  variant: Variant;
  rssBeforeMb: number;
  rssAfterMb: number;
  heapAfterMb: number;
  held: number;
  seconds: number;
}

/** Session ids as clients send them: 36 characters (a UUID's length). */
const sessionId = (i: number, salt: string) => `${salt}-${i.toString(16).padStart(8, '0')}-session-id`.slice(0, 36);

function childRun(variant: Variant): ChildResult {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the child with --expose-gc');
  const yaml = `
routes:
  - name: chat
    arms: [{ name: model-a, cluster: model_a }, { name: model-b, cluster: model_b }, { name: model-c, cluster: model_c }]
    policy: { type: thompson }
    sticky: ${variant === 'table' ? `{ header: x-session-id, ttl: 1h, max_sessions: ${STICKY_SESSIONS} }` : 'null'}
    guardrails: null
`;
  const parsed = parseConfig(yaml, { env: {}, hostname: 'bench' });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  const config = parsed.value;
  const key = randomBytes(32);
  const engine = new Engine({
    config,
    state: new ReplicaState('bench', routeShapes(config), systemClock),
    rng: createRng(1),
    clock: systemClock,
    metrics: null,
    logger: null,
    ids: new DecisionIdCodec(key, 'bench'),
    pins: new PinCodec(key),
  });
  const route = engine.route('chat')!;
  let current = '';
  const headers: HeaderList = { length: 0, name: () => '', value: () => '', get: (n) => (n === 'x-session-id' ? current : undefined) };
  // The previous design: raw key → arm name in an LRU bounded by max_sessions.
  const lru = variant === 'lru' ? new LRUCache<string, string>({ max: STICKY_SESSIONS, ttl: 3_600_000, updateAgeOnGet: true, ttlResolution: 0 }) : null;
  const salt = randomBytes(4).toString('hex');
  gc();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  for (let i = 0; i < STICKY_SESSIONS; i++) {
    current = sessionId(i, salt);
    const d = engine.decide(route, variant === 'table' ? headers : null);
    lru?.set(current, route.armNames[d.arm]!);
  }
  const seconds = (performance.now() - t0) / 1000;
  gc();
  const mem = process.memoryUsage();
  // Every session must still be held (and answer sticky) for the figure to mean anything.
  let held = 0;
  const now = Date.now();
  if (variant === 'table') held = route.sticky!.size(now);
  else held = lru!.size;
  if (variant === 'table') {
    for (let i = 0; i < 1000; i++) {
      current = sessionId(Math.floor((i * STICKY_SESSIONS) / 1000), salt);
      if (engine.decide(route, headers).reason !== 'sticky') throw new Error(`session ${current} lost its pin`);
    }
  }
  return { variant, rssBeforeMb: rssBefore / MB, rssAfterMb: mem.rss / MB, heapAfterMb: mem.heapUsed / MB, held, seconds };
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface StickyMemoryResult {
  rounds: ChildResult[];
  table: { rssMb: number; deltaMb: number; bytesPerSession: number; held: number };
  lru: { rssMb: number; deltaMb: number; bytesPerSession: number; held: number };
}

export async function runStickyMemoryBench(): Promise<StickyMemoryResult> {
  const self = fileURLToPath(import.meta.url);
  const pin = hasTaskset();
  const rounds: ChildResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, variant] of (['table', 'lru'] as const).entries()) {
      const args = ['--expose-gc', self, '--child', variant];
      const res = pin ? spawnSync('taskset', ['-c', String(i), process.execPath, ...args], { encoding: 'utf8' }) : spawnSync(process.execPath, args, { encoding: 'utf8' });
      if (res.status !== 0) throw new Error(`sticky-memory child (${variant}) failed: ${res.stderr}`);
      rounds.push(JSON.parse(res.stdout.trim().split('\n').pop()!) as ChildResult);
    }
  }
  const summary = (v: Variant) => {
    const rs = rounds.filter((x) => x.variant === v);
    const delta = median(rs.map((x) => x.rssAfterMb - x.rssBeforeMb));
    return { rssMb: median(rs.map((x) => x.rssAfterMb)), deltaMb: delta, bytesPerSession: (delta * MB) / STICKY_SESSIONS, held: Math.min(...rs.map((x) => x.held)) };
  };
  return { rounds, table: summary('table'), lru: summary('lru') };
}

export function formatStickyMemoryResult(r: StickyMemoryResult): string {
  const row = (name: string, s: StickyMemoryResult['table']) =>
    `${name.padEnd(40)} RSS ${s.rssMb.toFixed(0).padStart(4)} MB   +${s.deltaMb.toFixed(0).padStart(4)} MB   ${s.bytesPerSession.toFixed(0).padStart(4)} B/session   held ${s.held}`;
  const ranges = (v: Variant) => {
    const xs = r.rounds.filter((x) => x.variant === v).map((x) => x.rssAfterMb);
    return `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} MB`;
  };
  return [
    row('hashed table (sticky, via engine.decide)', r.table),
    row('previous: lru-cache of raw keys', r.lru),
    `RSS ratio table/lru ${(r.table.rssMb / r.lru.rssMb).toFixed(2)}x; per-session ratio ${(r.table.bytesPerSession / r.lru.bytesPerSession).toFixed(2)}x`,
    `RSS range over ${ROUNDS} rounds: table ${ranges('table')}, lru ${ranges('lru')}; target ≤ ${STICKY_RSS_TARGET_MB} MB at ${STICKY_SESSIONS.toLocaleString('en-US')} sessions: ${r.table.rssMb <= STICKY_RSS_TARGET_MB ? 'met' : 'MISSED'}`,
  ].join('\n');
}

const childIdx = process.argv.indexOf('--child');
if (childIdx >= 0) {
  console.log(JSON.stringify(childRun(process.argv[childIdx + 1] as Variant)));
} else {
  runIfMain(import.meta.url, runStickyMemoryBench, formatStickyMemoryResult);
}
