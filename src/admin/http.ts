import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
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
  /** Problems that do not make the process unready (a failing snapshot or decision-log disk, being retried). */
  degraded?: Record<string, string>;
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
  /** Limits against slow or stuck clients (ADMIN_LIMITS). */
  limits?: Partial<AdminLimits>;
  /** Run before each /metrics scrape: gauges derived from engine state are computed here, off the request path. */
  beforeScrape?: () => void;
}

/**
 * What one admin request may take. A client slower than this (slowloris: headers
 * or body dribbled a byte at a time) gets a coded 408 and its connection closed,
 * so it holds neither a handler nor a socket for long.
 */
export interface AdminLimits {
  /** All request headers must arrive within this. */
  headersTimeoutMs: number;
  /** The whole body must arrive within this, counted from the end of the headers. */
  bodyTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Largest request body (JSON). */
  maxBodyBytes: number;
}

export const ADMIN_LIMITS: AdminLimits = {
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxBodyBytes: 1 << 20,
};
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
        return { status: r.ready ? 200 : 503, body: { ready: r.ready, checks: r.checks, ...(r.degraded ? { degraded: r.degraded } : {}) } };
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

  private limits(): AdminLimits {
    return { ...ADMIN_LIMITS, ...(this.opts.maxBodyBytes !== undefined ? { maxBodyBytes: this.opts.maxBodyBytes } : {}), ...this.opts.limits };
  }

  async start(): Promise<{ host: string; port: number }> {
    const addr = listenAddress(this.opts.address);
    const l = this.limits();
    const server = createServer(
      {
        headersTimeout: l.headersTimeoutMs,
        // Node's own backstop for the whole request; the body timer in readBody answers first with a coded 408.
        requestTimeout: l.headersTimeoutMs + l.bodyTimeoutMs + 1_000,
        keepAliveTimeout: l.keepAliveTimeoutMs,
        // How often Node checks the two timeouts above (its default, 30 s, would let a slow client linger).
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(l.headersTimeoutMs / 4))),
      },
      (req, res) => void this.dispatch(req, res),
    );
    server.on('clientError', (e, socket) => this.clientError(e as NodeJS.ErrnoException, socket));
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

  /**
   * Requests Node's parser refuses before any handler runs (bad request line or
   * method, headers too large, headers or body too slow): a coded JSON error, then
   * the connection is closed.
   */
  private clientError(e: NodeJS.ErrnoException, socket: Duplex): void {
    const code = e.code ?? '';
    if (code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    let reply: AdminReply;
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT') reply = jsonError(408, ErrorCodes.ADMIN_TIMEOUT, `request not received within ${this.limits().headersTimeoutMs} ms`);
    else if (code === 'HPE_HEADER_OVERFLOW') reply = jsonError(431, ErrorCodes.ADMIN_TOO_LARGE, 'request headers too large');
    else if (code === 'HPE_INVALID_METHOD' && /^[A-Z]{1,32} /.test(rawPacketStart(e))) reply = jsonError(501, ErrorCodes.ADMIN_METHOD, 'unknown HTTP method; the admin API takes GET and POST');
    else reply = jsonError(400, ErrorCodes.ADMIN_BAD_REQUEST, `malformed HTTP request (${code || e.message})`);
    const body = JSON.stringify(reply.body);
    socket.end(
      `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: AdminReply;
    let closeAfter = false;
    try {
      const r = await this.handle(req);
      if ('closeAfter' in r) {
        closeAfter = true;
        reply = r.reply;
      } else reply = r;
    } catch (e) {
      this.opts.logger.error({ err: e }, 'admin handler failed');
      reply = jsonError(500, ErrorCodes.INTERNAL, 'internal error');
    }
    if (res.writableEnded || res.destroyed) return;
    const isText = typeof reply.body === 'string';
    const payload = isText ? (reply.body as string) : JSON.stringify(reply.body);
    const headers: Record<string, string> = { 'content-type': reply.contentType ?? (isText ? 'text/plain; charset=utf-8' : 'application/json') };
    // The rest of an unread body (too large, too slow) is not worth reading: close the connection.
    if (closeAfter) headers.connection = 'close';
    res.writeHead(reply.status, headers);
    res.end(payload);
    if (closeAfter) res.once('finish', () => req.socket.destroy());
  }

  private async handle(req: IncomingMessage): Promise<AdminReply | { reply: AdminReply; closeAfter: true }> {
    const url = requestUrl(req.url);
    if (url === null) return jsonError(400, ErrorCodes.ADMIN_BAD_REQUEST, `malformed request target: ${JSON.stringify((req.url ?? '').slice(0, 200))}`);
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
      const l = this.limits();
      const raw = await readBody(req, l.maxBodyBytes, l.bodyTimeoutMs);
      if (raw === 'too_large') return { reply: jsonError(413, ErrorCodes.ADMIN_TOO_LARGE, `request body over ${l.maxBodyBytes} bytes`), closeAfter: true };
      if (raw === 'timeout') return { reply: jsonError(408, ErrorCodes.ADMIN_TIMEOUT, `request body not received within ${l.bodyTimeoutMs} ms`), closeAfter: true };
      if (raw === 'aborted') return { reply: jsonError(400, ErrorCodes.ADMIN_BAD_REQUEST, 'request body aborted'), closeAfter: true };
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

/** The first bytes a request the parser refused began with (Node attaches them to the error). */
function rawPacketStart(e: NodeJS.ErrnoException): string {
  const raw = (e as { rawPacket?: unknown }).rawPacket;
  return Buffer.isBuffer(raw) ? raw.subarray(0, 40).toString('latin1') : '';
}

/**
 * The request target's path and query. Origin-form (`/v1/x`) is the norm; an
 * absolute-form target (`http://host:port/v1/x`, RFC 9112 §3.2.2) is accepted
 * when it parses. null for anything else, e.g. `http://x:bad/` (a port that is
 * not a number), `*` or garbage.
 */
function requestUrl(target: string | undefined): URL | null {
  const t = target ?? '/';
  try {
    if (t.startsWith('/')) return new URL(t, 'http://admin');
    if (/^https?:\/\//i.test(t)) return new URL(t);
  } catch {
    return null;
  }
  return null;
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

type BodyResult = string | 'too_large' | 'timeout' | 'aborted';

/** Reads the body up to `limit` bytes within `timeoutMs`; stops reading as soon as either is exceeded. */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.pause();
    return Promise.resolve('too_large');
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (r: BodyResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      if (r === 'too_large' || r === 'timeout') req.pause();
      resolve(r);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) done('too_large');
      else chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => done('aborted'));
    req.on('close', () => done('aborted'));
  });
}
