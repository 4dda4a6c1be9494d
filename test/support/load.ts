/**
 * A bounded HTTP load loop: `total` requests over `concurrency` keep-alive
 * connections; records status, selected response headers and latency per request.
 */
import { Agent, request } from 'node:http';

export interface LoadOptions {
  url: string;
  total: number;
  concurrency: number;
  method?: string;
  /** Per-request headers (index = request number). */
  headers?: (i: number) => Record<string, string>;
  /** Response headers to record (lower-case). */
  headersOfInterest?: readonly string[];
  /** Per-request timeout. */
  timeoutMs?: number;
}

export interface LoadResult {
  index: number;
  /** 0 when the request failed without a response. */
  status: number;
  headers: Record<string, string | undefined>;
  latencyMs: number;
  body: string;
  error?: string;
}

export const LOAD_DEFAULTS = { timeoutMs: 10_000, method: 'GET' } as const;

export async function runLoad(opts: LoadOptions): Promise<LoadResult[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const results: LoadResult[] = new Array(opts.total);
  const interest = opts.headersOfInterest ?? [];
  const timeoutMs = opts.timeoutMs ?? LOAD_DEFAULTS.timeoutMs;
  let next = 0;
  const one = (index: number): Promise<LoadResult> =>
    new Promise((resolve) => {
      const start = performance.now();
      const done = (r: Omit<LoadResult, 'index' | 'latencyMs'>) => resolve({ index, latencyMs: performance.now() - start, ...r });
      const req = request(opts.url, { method: opts.method ?? LOAD_DEFAULTS.method, agent, headers: opts.headers?.(index) ?? {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers: Record<string, string | undefined> = {};
          for (const h of interest) {
            const v = res.headers[h];
            headers[h] = Array.isArray(v) ? v.join(', ') : v;
          }
          done({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e) => done({ status: 0, headers: {}, body: '', error: e.message }));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', (e) => done({ status: 0, headers: {}, body: '', error: e.message }));
      req.end();
    });
  const worker = async () => {
    while (next < opts.total) {
      const i = next++;
      results[i] = await one(i);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.total) }, worker));
  } finally {
    agent.destroy();
  }
  return results;
}
