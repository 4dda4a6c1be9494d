/**
 * The open loop: requests leave at `rps` on a fixed schedule whatever the
 * target's latency (so a slow target meets the load it would meet in
 * production instead of slowing the client down), at most `concurrency` in
 * flight — a request due while that many are open is not sent and is counted
 * `dropped`. Each response is read to its end (an SSE stream to its last
 * event), recording status, `x-bandit-arm`, total time and time to first byte.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ARM_HEADER, NO_ARM, NO_RESPONSE } from './defaults.js';
import { SessionPool } from './sessions.js';
import { Observations, type Sample } from './stats.js';

export interface RunnerOptions {
  /** Requests go round-robin over these (one URL, or each replica's Envoy). */
  urls: URL[];
  method: string;
  headers: Record<string, string>;
  body: Buffer | null;
  rps: number;
  /** Stop sending after this long, or after `requests`, whichever comes first. */
  durationMs: number;
  requests: number | null;
  concurrency: number;
  sessions: number;
  churn: number;
  sessionHeader: string | null;
  sessionCookie: string | null;
  stream: boolean;
  timeoutMs: number;
  seed: number;
  /** Session ids start with this (default 'lt'), to tell runs apart. */
  sessionPrefix?: string;
  /** A response status counted as success (default: < 400). */
  isSuccess?: (status: number) => boolean;
}

export interface RunProgress {
  elapsedMs: number;
  /** The schedule is over; requests still open are being waited for. */
  draining: boolean;
  sent: number;
  dropped: number;
  inFlight: number;
  obs: Observations;
}

export interface RunResult extends RunProgress {
  /** Stopped early by `stop()`. */
  stopped: boolean;
}

export interface LoadRun {
  /** Resolves when every sent request has ended (or timed out). */
  done: Promise<RunResult>;
  progress(): RunProgress;
  stop(): void;
}

const TICK_MS = 5;
const DONE_MARKER = Buffer.from('data: [DONE]');

export function startRun(o: RunnerOptions): LoadRun {
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: o.concurrency });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: o.concurrency });
  const agent = { destroy: () => (httpAgent.destroy(), httpsAgent.destroy()) };
  const pool = new SessionPool(o.sessionHeader || o.sessionCookie ? o.sessions : 0, o.churn, o.seed, o.sessionPrefix);
  const obs = new Observations();
  const isSuccess = o.isSuccess ?? ((s: number) => s >= 200 && s < 400);
  const interval = 1000 / o.rps;
  const limit = o.requests ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  let dropped = 0;
  let inFlight = 0;
  let stopped = false;
  let t0 = performance.now();
  let started = false;
  let endedAt: number | null = null;

  const one = (n: number): void => {
    const url = o.urls[n % o.urls.length]!;
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const session = pool.next();
    const headers: Record<string, string> = { ...o.headers };
    if (session !== null) {
      if (o.sessionHeader) headers[o.sessionHeader] = session;
      else headers.cookie = headers.cookie ? `${headers.cookie}; ${o.sessionCookie}=${session}` : `${o.sessionCookie}=${session}`;
    }
    if (o.body) headers['content-length'] = String(o.body.length);
    const start = performance.now();
    inFlight++;
    let finished = false;
    const finish = (s: Omit<Sample, 'session' | 'latencyMs'>): void => {
      if (finished) return;
      finished = true;
      inFlight--;
      obs.add({ ...s, session, latencyMs: performance.now() - start });
    };
    const req = send(url, { method: o.method, agent: https ? httpsAgent : httpAgent, headers }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const armHeader = res.headers[ARM_HEADER];
      const arm = typeof armHeader === 'string' && armHeader !== '' ? armHeader : NO_ARM;
      const sse = /^text\/event-stream/i.test(String(res.headers['content-type'] ?? ''));
      let ttfb: number | null = null;
      // Only the tail is kept, to see whether an SSE stream ended with [DONE].
      let tail = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => {
        if (ttfb === null) ttfb = performance.now() - start;
        if (sse) tail = Buffer.concat([tail, chunk]).subarray(-64);
      });
      res.on('end', () => {
        const incomplete = sse && tail.indexOf(DONE_MARKER) < 0;
        finish({ arm, status, ok: isSuccess(status) && !incomplete, ttfbMs: o.stream ? ttfb ?? performance.now() - start : null, ...(incomplete ? { incompleteStream: true } : {}) });
      });
      res.on('error', (e) => finish({ arm, status: 0, ok: false, ttfbMs: null, error: errorName(e) }));
      res.on('aborted', () => finish({ arm, status: 0, ok: false, ttfbMs: null, error: 'aborted mid-response' }));
    });
    req.setTimeout(o.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => finish({ arm: NO_RESPONSE, status: 0, ok: false, ttfbMs: null, error: errorName(e) }));
    req.end(o.body ?? undefined);
  };

  let resolveDone!: (r: RunResult) => void;
  const done = new Promise<RunResult>((r) => (resolveDone = r));
  const progress = (): RunProgress => ({ elapsedMs: (endedAt ?? performance.now()) - t0, draining: endedAt !== null, sent, dropped, inFlight, obs });

  const timer = setInterval(() => {
    // The schedule starts at the first tick, so start-up work is not a burst of overdue requests.
    if (!started) {
      started = true;
      t0 = performance.now();
    }
    const elapsed = performance.now() - t0;
    if (stopped || elapsed >= o.durationMs || sent + dropped >= limit) {
      clearInterval(timer);
      endedAt = performance.now();
      // Requests still open end by their own timeout; then the run is over.
      const drain = setInterval(() => {
        if (inFlight === 0) {
          clearInterval(drain);
          agent.destroy();
          resolveDone({ ...progress(), stopped });
        }
      }, TICK_MS);
      return;
    }
    const due = Math.min(limit, Math.floor(elapsed / interval) + 1);
    while (sent + dropped < due) {
      if (inFlight >= o.concurrency) dropped++;
      else {
        one(sent++);
      }
    }
  }, TICK_MS);

  return {
    done,
    progress,
    // Ctrl-C: stop sending and cut open requests (counted as errors) instead of waiting out their timeout.
    stop: () => {
      stopped = true;
      agent.destroy();
    },
  };
}

/** A short, stable name for a transport error: ECONNREFUSED, ECONNRESET, TIMEOUT, … */
export function errorName(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : (e as Error)?.message ?? 'error';
}
