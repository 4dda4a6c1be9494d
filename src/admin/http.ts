import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ErrorCodes, type ErrorCode } from '../util/errors.js';
import { listenAddress } from '../util/address.js';

export interface AdminRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  /** Parsed JSON body (undefined when empty). */
  body: unknown;
  /** Who made a mutating call, for the audit log. */
  caller: string;
  headers: IncomingMessage['headers'];
}

export interface AdminReply {
  status: number;
  body: unknown;
  contentType?: string;
}

export interface AdminRoute {
  method: 'GET' | 'POST';
  /** `/v1/routes/:route/pause` style; `:name` segments become params. */
  path: string;
  mutating: boolean;
  handle(req: AdminRequest): AdminReply | Promise<AdminReply>;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean | string>;
}

export interface AdminServerOptions {
  address: string;
  logger: Logger;
  registry: Registry;
  readiness: () => Readiness;
  /** Bearer token required for mutating calls; null = none configured. */
  token: string | null;
  /**
   * Also require the token for reads other than PUBLIC_PATHS (the sidecar
   * sets this when the admin listens off loopback): route names, arm
   * statistics and quarantine state are nobody else's business.
   */
  protectReads?: boolean;
  maxBodyBytes?: number;
  /** Run before each /metrics scrape: gauges derived from engine state are computed here, off the request path. */
  beforeScrape?: () => void;
}

const DEFAULT_MAX_BODY = 1 << 20;
/** Open to kubelet probes and Prometheus without a token. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

export function jsonError(status: number, code: ErrorCode, message: string): AdminReply {
  return { status, body: { error: { code, message } } };
}

interface CompiledRoute extends AdminRoute {
  segments: string[];
}

/** The admin HTTP server: health, readiness, metrics, and the routes others register. */
export class AdminServer {
  private readonly routes: CompiledRoute[] = [];
  private server: Server | null = null;

  constructor(private readonly opts: AdminServerOptions) {
    this.add({ method: 'GET', path: '/healthz', mutating: false, handle: () => ({ status: 200, body: { status: 'ok' } }) });
    this.add({
      method: 'GET',
      path: '/readyz',
      mutating: false,
      handle: () => {
        const r = opts.readiness();
        return { status: r.ready ? 200 : 503, body: { ready: r.ready, checks: r.checks } };
      },
    });
    this.add({
      method: 'GET',
      path: '/metrics',
      mutating: false,
      handle: async () => {
        opts.beforeScrape?.();
        return { status: 200, body: await opts.registry.metrics(), contentType: opts.registry.contentType };
      },
    });
  }

  add(route: AdminRoute): void {
    this.routes.push({ ...route, segments: route.path.split('/').filter(Boolean) });
  }

  async start(): Promise<{ host: string; port: number }> {
    const addr = listenAddress(this.opts.address);
    const server = createServer((req, res) => void this.dispatch(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (addr.kind === 'unix') server.listen(addr.path, resolve);
      else server.listen(addr.port, addr.host, resolve);
    });
    const a = server.address();
    return typeof a === 'object' && a ? { host: a.address, port: a.port } : { host: this.opts.address, port: 0 };
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: AdminReply;
    try {
      reply = await this.handle(req);
    } catch (e) {
      this.opts.logger.error({ err: e }, 'admin handler failed');
      reply = jsonError(500, ErrorCodes.INTERNAL, 'internal error');
    }
    const isText = typeof reply.body === 'string';
    const payload = isText ? (reply.body as string) : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': reply.contentType ?? (isText ? 'text/plain; charset=utf-8' : 'application/json') });
    res.end(payload);
  }

  private async handle(req: IncomingMessage): Promise<AdminReply> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const segments = url.pathname.split('/').filter(Boolean).map(safeDecode);
    const matches = this.routes.flatMap((r) => {
      const params = matchSegments(r.segments, segments);
      return params ? [{ route: r, params }] : [];
    });
    const candidates = matches.map((m) => m.route);
    if (candidates.length === 0) return jsonError(404, ErrorCodes.ADMIN_NOT_FOUND, `no such endpoint: ${url.pathname}`);
    const hit = matches.find((m) => m.route.method === req.method);
    if (!hit) {
      return jsonError(405, ErrorCodes.ADMIN_METHOD, `${req.method} not allowed on ${url.pathname}; use ${candidates.map((c) => c.method).join(', ')}`);
    }
    const route = hit.route;
    const auth = req.headers.authorization ?? '';
    const needsToken = route.mutating || (this.opts.protectReads === true && !PUBLIC_PATHS.has(route.path));
    if (needsToken && this.opts.token !== null && auth !== `Bearer ${this.opts.token}`) {
      return jsonError(401, ErrorCodes.ADMIN_UNAUTHORIZED, 'a valid bearer token is required for this call');
    }
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY);
      if (raw === null) return jsonError(413, ErrorCodes.ADMIN_BAD_REQUEST, 'request body too large');
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw);
        } catch (e) {
          return jsonError(400, ErrorCodes.ADMIN_BAD_REQUEST, `body is not valid JSON: ${(e as Error).message}`);
        }
      }
    }
    const caller = `${req.socket.remoteAddress ?? 'unix'}${this.opts.token !== null && route.mutating ? ' (token)' : ''}`;
    return route.handle({ method: route.method, path: url.pathname, params: hit.params, body, caller, headers: req.headers });
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function matchSegments(pattern: string[], actual: string[]): Record<string, string> | null {
  if (pattern.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (const [i, p] of pattern.entries()) {
    const a = actual[i];
    if (a === undefined) return null;
    if (p.startsWith(':')) params[p.slice(1)] = a;
    else if (p !== a) return null;
  }
  return params;
}

function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
