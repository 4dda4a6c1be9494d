/**
 * `envoy-bandit loadtest`: checks the target answers a TCP connect, runs the
 * open loop with a live progress line, prints the per-arm table (or JSON) and
 * turns the --max-* limits into the exit code.
 */
import { connect } from 'node:net';
import { LOADTEST_DEFAULTS, LOADTEST_EXIT } from './defaults.js';
import type { LoadtestOptions } from './options.js';
import { buildReport, formatReport, progressLine, type LoadtestReport } from './report.js';
import { errorName, startRun, type LoadRun } from './runner.js';

export interface LoadtestIo {
  stdout(line: string): void;
  stderr(line: string): void;
  /** Progress lines replace each other (a terminal) or are printed every few seconds (a log). */
  tty: boolean;
}

export interface LoadtestOutcome {
  exitCode: number;
  report: LoadtestReport | null;
}

/** Resolves null when a TCP connection to the target's host and port opens, else the error's name. */
export function checkReachable(url: URL, timeoutMs: number = LOADTEST_DEFAULTS.connectCheckMs): Promise<string | null> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (e: string | null) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(e);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => done(null));
    socket.once('error', (e) => done(errorName(e)));
  });
}

export async function runLoadtest(o: LoadtestOptions, io: LoadtestIo, opts: { json: boolean; onStart?: (run: LoadRun) => void }): Promise<LoadtestOutcome> {
  const target = o.runner.urls.map(String).join(' ');
  for (const url of o.runner.urls) {
    const unreachable = await checkReachable(url);
    if (unreachable !== null) {
      io.stderr(`loadtest: cannot reach ${url.toString()}: ${unreachable} — is Envoy (or the service in front of it) listening on ${url.host}?`);
      return { exitCode: LOADTEST_EXIT.unreachable, report: null };
    }
  }
  const planned = o.runner.requests === null ? `for ${o.runner.durationMs / 1000}s` : `${o.runner.requests} requests`;
  io.stderr(`loadtest: ${o.runner.method} ${target} at ${o.runner.rps} rps, ${planned}, at most ${o.runner.concurrency} in flight${o.runner.sessionHeader || o.runner.sessionCookie ? `, ${o.runner.sessions} sessions (${o.runner.sessionHeader ? `header ${o.runner.sessionHeader}` : `cookie ${o.runner.sessionCookie}`})` : ''}`);
  const run = startRun(o.runner);
  opts.onStart?.(run);
  const plannedMs = o.runner.requests === null ? o.runner.durationMs : Math.min(o.runner.durationMs, (o.runner.requests / o.runner.rps) * 1000);
  let ticks = 0;
  const every = io.tty ? 1 : 5;
  const timer = setInterval(() => {
    if (++ticks % every === 0) io.stderr(progressLine(run.progress(), plannedMs));
  }, LOADTEST_DEFAULTS.progressMs);
  const result = await run.done.finally(() => clearInterval(timer));
  const report = buildReport(result, {
    target,
    method: o.runner.method,
    stream: o.runner.stream,
    sessions: Boolean(o.runner.sessionHeader || o.runner.sessionCookie) && o.runner.sessions > 0,
    limits: o.limits,
  });
  if (opts.json) io.stdout(JSON.stringify(report, null, 2));
  else for (const line of formatReport(report)) io.stdout(line);
  const t = result.obs.tally;
  if (t.completed > 0 && t.noResponse === t.completed) {
    const why = Object.entries(report.transport_errors).map(([k, v]) => `${k} ×${v}`).join(', ');
    io.stderr(`loadtest: no request got a response (${why}): the target stopped answering`);
    return { exitCode: LOADTEST_EXIT.unreachable, report };
  }
  for (const e of report.limits.exceeded) io.stderr(`loadtest: limit exceeded: ${e}`);
  return { exitCode: report.limits.exceeded.length ? LOADTEST_EXIT.limitExceeded : LOADTEST_EXIT.ok, report };
}
