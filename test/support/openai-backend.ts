/**
 * A fake OpenAI-compatible model server for integration tests: it serves one
 * model name and answers 404 (as vLLM does) to a request naming another; with
 * `"stream": true` it answers Server-Sent Events chunk by chunk, ending with
 * `data: [DONE]`. It records each raw request body it received.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OpenAiBackend {
  readonly port: number;
  readonly model: string;
  /** Raw bodies and headers received, oldest first (bounded). */
  readonly received: { body: Buffer; headers: IncomingHttpHeaders }[];
  stop(): Promise<void>;
}

export const OPENAI_BACKEND_DEFAULTS = { streamChunks: 4, chunkIntervalMs: 5, keep: 2000 } as const;

export async function startOpenAiBackend(opts: { model: string; name: string; streamChunks?: number; chunkIntervalMs?: number }): Promise<OpenAiBackend> {
  const received: { body: Buffer; headers: IncomingHttpHeaders }[] = [];
  const chunks = opts.streamChunks ?? OPENAI_BACKEND_DEFAULTS.streamChunks;
  const interval = opts.chunkIntervalMs ?? OPENAI_BACKEND_DEFAULTS.chunkIntervalMs;
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      received.push({ body, headers: req.headers });
      if (received.length > OPENAI_BACKEND_DEFAULTS.keep) received.shift();
      let parsed: { model?: unknown; stream?: unknown };
      try {
        parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json', 'x-backend': opts.name });
        res.end(JSON.stringify({ error: { message: 'body is not JSON' } }));
        return;
      }
      if (parsed.model !== opts.model) {
        res.writeHead(404, { 'content-type': 'application/json', 'x-backend': opts.name });
        res.end(JSON.stringify({ error: { message: `The model \`${String(parsed.model)}\` does not exist.`, type: 'NotFoundError', code: 404 } }));
        return;
      }
      const id = `chatcmpl-${received.length}`;
      if (parsed.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-backend': opts.name });
        let i = 0;
        const tick = () => {
          if (i < chunks) {
            res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', model: opts.model, choices: [{ index: 0, delta: { content: `t${i}` } }] })}\n\n`);
            i++;
            setTimeout(tick, interval);
          } else res.end('data: [DONE]\n\n');
        };
        tick();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': opts.name });
      res.end(JSON.stringify({ id, object: 'chat.completion', model: opts.model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }));
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    model: opts.model,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
