/**
 * `envoy-bandit loadtest` against real stacks (Envoy + sidecar + three
 * backends): the per-arm table matches what the backends served, sticky
 * violations match an independent count from the backends' own logs (zero
 * while the sidecar sees the session; counted when the test breaks stickiness
 * on purpose), --json is parsed, and the exit codes follow the limits.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';
import type { LoadtestReport } from '../../../src/tools/loadtest/report.js';
import { startStack, type Stack } from '../../support/admin-stack.js';
import type { Backend } from '../../support/backend.js';
import { REPO_ROOT } from '../../support/envoy.js';
import { freePort } from '../../support/ports.js';

const BIN = join(REPO_ROOT, 'bin', 'envoy-bandit.js');
/** Each run sends at most a few hundred requests; generous for a loaded 2-core machine. */
const CHILD_TIMEOUT_MS = 60_000;

const yaml = (dir: string) => `
replica_id: lt-${dir.slice(-6)}
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
decision_ids: { secret_file: ${dir}/key }
routes:
  - name: chat
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    policy: { type: static, weights: { model-a: 1, model-b: 1, model-c: 1 } }
    sticky: { header: x-session-id }
    guardrails: null
`;
const BACKENDS = { model_a: {}, model_b: {}, model_c: {} };
/**
 * These tests check the tool's accounting against the backends, not fail-open
 * timing: a 2 s ext_proc message timeout keeps a stalled shared machine from
 * turning decisions into fail-open passes (reported as arm "(none)").
 */
const ACCOUNTING_TIMEOUT = '2s';

/** In process: for usage errors, which send nothing. */
async function loadtestInProcess(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const io = captureIo();
  const code = await main(['loadtest', ...args], io);
  return { code, out: io.out, err: io.err };
}

/** As a user runs it (needs dist/, which `npm test` builds first): its own process, so its event loop is not the sidecar's. */
function loadtest(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'loadtest', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out: out.split('\n').filter((l) => l !== ''), err: err.split('\n').filter((l) => l !== '') });
    });
  });
}
const json = (out: string[]) => JSON.parse(out.join('\n')) as LoadtestReport;

/** Ground truth from the backends: requests per arm, and sessions (by `header`) served by more than one arm. */
function truth(backends: Backend[], header: string): { perArm: Map<string, number>; violations: number } {
  const perArm = new Map<string, number>();
  const arms = new Map<string, Set<string>>();
  for (const b of backends) {
    const arm = b.behaviour.name.replace('_', '-');
    perArm.set(arm, (perArm.get(arm) ?? 0) + b.requests);
    for (const r of b.seen) {
      const s = r.headers[header] as string;
      if (!arms.has(s)) arms.set(s, new Set());
      arms.get(s)!.add(arm);
    }
  }
  return { perArm, violations: [...arms.values()].filter((a) => a.size > 1).length };
}
const resetAll = (bs: Backend[]) => bs.forEach((b) => b.reset());

describe('loadtest against one replica', () => {
  let stack: Stack;
  let backends: Backend[];
  beforeAll(async () => {
    stack = await startStack({ yaml, backends: BACKENDS, extProcMessageTimeout: ACCOUNTING_TIMEOUT });
    backends = Object.values(stack.backends);
  }, 30_000);
  afterAll(() => stack?.stop());
  const target = () => `http://127.0.0.1:${stack.envoy.port}/v1/chat/completions`;

  it('the per-arm table is what the backends served, and sessions stay on one arm', async () => {
    resetAll(backends);
    const r = await loadtest(['--target', target(), '--rps', '150', '--requests', '180', '--concurrency', '400', '--sessions', '40', '--churn', '0', '--json']);
    expect(r.code).toBe(0);
    const rep = json(r.out);
    expect(rep.completed).toBe(180);
    expect(rep.succeeded).toBe(180);
    const t = truth(backends, 'x-session-id');
    expect(new Map(rep.arms.map((a) => [a.arm, a.requests]))).toEqual(t.perArm);
    for (const a of rep.arms) {
      expect(a.share).toBeCloseTo(t.perArm.get(a.arm)! / 180, 3);
      expect(a.success_rate).toBe(1);
      expect(a.latency_ms.p50).toBeGreaterThan(0);
      expect(a.latency_ms.p99).toBeGreaterThanOrEqual(a.latency_ms.p50!);
    }
    expect(rep.sticky).toMatchObject({ sessions: 40, violations: 0 });
    expect(t.violations).toBe(0);
    // the request was the default OpenAI chat body, POSTed
    expect(backends.some((b) => b.seen.some((s) => s.method === 'POST'))).toBe(true);
  });

  it('stickiness broken on purpose (sessions in a header the sidecar does not read): violations counted exactly, exit 3 over the limit', async () => {
    resetAll(backends);
    const r = await loadtest(['--target', target(), '--rps', '150', '--requests', '150', '--concurrency', '400', '--sessions', '10', '--session-header', 'x-not-sticky', '--max-sticky-violations', '0', '--json']);
    const rep = json(r.out);
    const t = truth(backends, 'x-not-sticky');
    expect(t.violations).toBeGreaterThan(5);
    expect(rep.sticky!.violations).toBe(t.violations);
    expect(rep.sticky!.examples.length).toBeGreaterThan(0);
    expect(rep.limits.exceeded).toEqual([`sticky violations ${t.violations} > --max-sticky-violations 0`]);
    expect(r.code).toBe(3);
    expect(r.err.join('\n')).toMatch(/limit exceeded: sticky violations/);
  });

  it('the error-rate limit: exit 3 above it, 0 within it; the human table names every arm', async () => {
    stack.backends.model_b!.behaviour.errorRate = 1;
    try {
      const over = await loadtest(['--target', target(), '--rps', '150', '--requests', '90', '--sessions', '0', '--max-error-rate', '0.05']);
      expect(over.code).toBe(3);
      const table = over.out.join('\n');
      expect(table).toMatch(/^arm +requests +share +success +p50 ms +p95 ms +p99 ms$/m);
      for (const arm of ['model-a', 'model-b', 'model-c']) expect(table).toMatch(new RegExp(`^${arm} +\\d+`, 'm'));
      expect(table).toMatch(/^model-b +\d+ +[\d.]+% +0\.0%/m);
      expect(table).toMatch(/not checked \(no sessions\)/);
      const within = await loadtest(['--target', target(), '--rps', '150', '--requests', '30', '--sessions', '0', '--max-error-rate', '0.9', '--json']);
      expect(within.code).toBe(0);
      expect(json(within.out).error_rate).toBeGreaterThan(0.05);
    } finally {
      stack.backends.model_b!.behaviour.errorRate = 0;
    }
  });

  it('--stream reads each response to its end and reports time to first byte', async () => {
    const r = await loadtest(['--target', target(), '--rps', '200', '--requests', '40', '--stream', '--json', '--sessions', '5']);
    expect(r.code).toBe(0);
    for (const a of json(r.out).arms) {
      expect(a.ttfb_ms!.p50).toBeGreaterThan(0);
      expect(a.ttfb_ms!.p50).toBeLessThanOrEqual(a.latency_ms.p99!);
    }
  });
});

describe('loadtest against three replicas, requests spread round-robin', () => {
  const stacks: Stack[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) stacks.push(await startStack({ yaml, backends: BACKENDS, seed: 100 + i, extProcMessageTimeout: ACCOUNTING_TIMEOUT }));
  }, 60_000);
  afterAll(async () => {
    for (const s of stacks) await s.stop();
  });

  it('per-arm counts and sticky violations match the backends of all three', async () => {
    const all = stacks.flatMap((s) => Object.values(s.backends));
    resetAll(all);
    const targets = stacks.flatMap((s) => ['--target', `http://127.0.0.1:${s.envoy.port}/v1/chat/completions`]);
    const r = await loadtest([...targets, '--rps', '150', '--requests', '240', '--concurrency', '400', '--sessions', '30', '--churn', '0', '--json']);
    const rep = json(r.out);
    const t = truth(all, 'x-session-id');
    expect(rep.completed).toBe(240);
    expect(new Map(rep.arms.map((a) => [a.arm, a.requests]))).toEqual(t.perArm);
    // Whatever the fleet's stickiness does, the tool counts what the backends saw.
    expect(rep.sticky!.violations).toBe(t.violations);
    expect(r.code).toBe(0);
    for (const s of stacks) expect(Object.values(s.backends).reduce((n, b) => n + b.requests, 0)).toBe(80);
  });
});

describe('loadtest usage and an unreachable target', () => {
  it('says so clearly when nothing listens, exit 2', async () => {
    const port = await freePort();
    const r = await loadtestInProcess(['--target', `http://127.0.0.1:${port}/v1/chat/completions`, '--requests', '5']);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(new RegExp(`cannot reach http://127.0.0.1:${port}/v1/chat/completions: ECONNREFUSED`));
    expect(r.out).toEqual([]);
  });

  it('bad flags name the flag, exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [[], /--target URL is required/],
      [['--target', 'ftp://x'], /--target must be an http\(s\) URL/],
      [['--target', 'http://x', '--rps', '0'], /--rps must be a number from 0.1/],
      [['--target', 'http://x', '--duration', 'soon'], /--duration must be a duration/],
      [['--target', 'http://x', '--session-header', 'a', '--session-cookie', 'b'], /exclude each other/],
      [['--target', 'http://x', '--header', 'no-colon'], /--header must look like "name: value"/],
      [['--target', 'http://x', '--body', '/nonexistent/body.json'], /--body \/nonexistent\/body.json: ENOENT/],
      [['--target', 'http://x', '--max-error-rate', '2'], /--max-error-rate must be a number from 0 to 1/],
      [['--target', 'http://x', '--bogus'], /unknown flag --bogus/],
    ];
    for (const [args, re] of cases) {
      const r = await loadtestInProcess(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err[0], args.join(' ')).toMatch(re);
    }
  });
});
