/** A webhook receiver for tests: records every POST body; can answer with a status or hang. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Answer the next requests with these statuses in turn (then 200); 'hang' never answers. */
  script: Array<number | 'hang'>;
  stop(): Promise<void>;
}

export async function startReceiver(opts: { hang?: boolean } = {}): Promise<Receiver> {
  const received: Received[] = [];
  const script: Array<number | 'hang'> = [];
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the text
      }
      received.push({ path: req.url ?? '/', headers: req.headers, body, at: Date.now() });
      const step = opts.hang ? 'hang' : (script.shift() ?? 200);
      if (step === 'hang') {
        held.push(res);
        return;
      }
      res.writeHead(step, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    script,
    async stop() {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
