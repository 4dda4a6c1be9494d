/** Flag values → checked loadtest options; every error names its flag. */
import { readFile } from 'node:fs/promises';
import { parseDuration } from '../../util/duration.js';
import { err, ok, type Result } from '../../util/errors.js';
import { defaultBody, LOADTEST_DEFAULTS, LOADTEST_LIMITS } from './defaults.js';
import type { Limits } from './report.js';
import type { RunnerOptions } from './runner.js';

export interface LoadtestFlags {
  target?: string[] | undefined;
  rps?: string | undefined;
  duration?: string | undefined;
  requests?: string | undefined;
  concurrency?: string | undefined;
  sessions?: string | undefined;
  churn?: string | undefined;
  'session-header'?: string | undefined;
  'session-cookie'?: string | undefined;
  method?: string | undefined;
  header?: string[] | undefined;
  body?: string | undefined;
  stream?: boolean | undefined;
  timeout?: string | undefined;
  seed?: string | undefined;
  'max-sticky-violations'?: string | undefined;
  'max-error-rate'?: string | undefined;
}

export interface LoadtestOptions {
  runner: RunnerOptions;
  limits: Limits;
}

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function num(flag: string, raw: string | undefined, dflt: number, min: number, max: number, integer: boolean): number | string {
  if (raw === undefined) return dflt;
  const x = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x)) || x < min || x > max) {
    return `--${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw)}`;
  }
  return x;
}

export async function parseLoadtestOptions(f: LoadtestFlags): Promise<Result<LoadtestOptions, string>> {
  if (f.target === undefined || f.target.length === 0) return err('--target URL is required (e.g. --target http://127.0.0.1:10000/v1/chat/completions)');
  const urls: URL[] = [];
  for (const t of f.target) {
    let url: URL;
    try {
      url = new URL(t);
    } catch {
      return err(`--target must be an http(s) URL, got ${JSON.stringify(t)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return err(`--target must be an http(s) URL, got ${JSON.stringify(t)}`);
    urls.push(url);
  }

  const L = LOADTEST_LIMITS;
  const D = LOADTEST_DEFAULTS;
  const rps = num('rps', f.rps, D.rps, 0.1, L.maxRps, false);
  const requests = f.requests === undefined ? null : num('requests', f.requests, 0, 1, L.maxRequests, true);
  const concurrency = num('concurrency', f.concurrency, D.concurrency, 1, L.maxConcurrency, true);
  const sessions = num('sessions', f.sessions, D.sessions, 0, L.maxSessions, true);
  const churn = num('churn', f.churn, D.churn, 0, 1, false);
  const seed = num('seed', f.seed, D.seed, 0, 2 ** 32 - 1, true);
  const maxViolations = f['max-sticky-violations'] === undefined ? null : num('max-sticky-violations', f['max-sticky-violations'], 0, 0, Number.MAX_SAFE_INTEGER, true);
  const maxErrorRate = f['max-error-rate'] === undefined ? null : num('max-error-rate', f['max-error-rate'], 0, 0, 1, false);
  for (const v of [rps, requests, concurrency, sessions, churn, seed, maxViolations, maxErrorRate]) if (typeof v === 'string') return err(v);

  let durationMs: number;
  if (f.duration !== undefined) {
    const d = parseDuration(f.duration);
    if (d === undefined || d <= 0 || d > L.maxDurationMs) return err(`--duration must be a duration from 1ms to ${L.maxDurationMs / 3_600_000}h (e.g. 30s, 5m), got ${JSON.stringify(f.duration)}`);
    durationMs = d;
  } else durationMs = requests === null ? D.durationMs : L.maxDurationMs;
  let timeoutMs: number = D.timeoutMs;
  if (f.timeout !== undefined) {
    const t = parseDuration(f.timeout);
    if (t === undefined || t <= 0 || t > 3_600_000) return err(`--timeout must be a duration from 1ms to 1h, got ${JSON.stringify(f.timeout)}`);
    timeoutMs = t;
  }

  if (f['session-header'] !== undefined && f['session-cookie'] !== undefined) return err('--session-header and --session-cookie exclude each other: pick how the target reads its session');
  const sessionCookie = f['session-cookie'] ?? null;
  const sessionHeader = sessionCookie === null ? (f['session-header'] ?? D.sessionHeader).toLowerCase() : null;
  if (sessionHeader !== null && !TOKEN_RE.test(sessionHeader)) return err(`--session-header must be a header name, got ${JSON.stringify(f['session-header'])}`);
  if (sessionCookie !== null && !TOKEN_RE.test(sessionCookie)) return err(`--session-cookie must be a cookie name, got ${JSON.stringify(sessionCookie)}`);

  const headers: Record<string, string> = {};
  for (const h of f.header ?? []) {
    const i = h.indexOf(':');
    const name = i > 0 ? h.slice(0, i).trim().toLowerCase() : '';
    if (!TOKEN_RE.test(name)) return err(`--header must look like "name: value", got ${JSON.stringify(h)}`);
    headers[name] = h.slice(i + 1).trim();
  }

  const stream = f.stream === true;
  let body: Buffer | null;
  if (f.body !== undefined) {
    try {
      body = await readFile(f.body);
    } catch (e) {
      return err(`--body ${f.body}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (body.length > L.maxBodyBytes) return err(`--body ${f.body}: ${body.length} bytes, more than ${L.maxBodyBytes}`);
  } else body = null;
  const method = (f.method ?? (body !== null || f.method === undefined ? 'POST' : 'GET')).toUpperCase();
  if (!TOKEN_RE.test(method)) return err(`--method must be an HTTP method, got ${JSON.stringify(f.method)}`);
  // The default body (an OpenAI chat request) goes with methods that carry one.
  if (body === null && (method === 'POST' || method === 'PUT' || method === 'PATCH')) {
    body = Buffer.from(defaultBody(stream));
    headers['content-type'] ??= 'application/json';
  }
  if (body !== null && f.body !== undefined) headers['content-type'] ??= 'application/json';

  return ok({
    runner: {
      urls,
      method,
      headers,
      body,
      rps: rps as number,
      durationMs,
      requests: requests as number | null,
      concurrency: concurrency as number,
      sessions: sessions as number,
      churn: churn as number,
      sessionHeader,
      sessionCookie,
      stream,
      timeoutMs,
      seed: seed as number,
    },
    limits: { maxStickyViolations: maxViolations as number | null, maxErrorRate: maxErrorRate as number | null },
  });
}
