/**
 * HTTP/1.1 over a raw socket, for hostile-input tests: sends exactly the bytes
 * given (optionally dribbled in pieces with pauses, like a slowloris client) and
 * reads whatever comes back until the server closes or `timeoutMs` passes.
 */
import { connect } from 'node:net';

export interface RawReply {
  /** null when nothing parseable came back before the timeout (a hang). */
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection. */
  closed: boolean;
  ms: number;
}

export interface RawRequestOptions {
  host?: string;
  port: number;
  /** The request, or pieces sent `gapMs` apart. */
  pieces: Array<string | Buffer>;
  gapMs?: number;
  timeoutMs?: number;
}

export function rawRequest(o: RawRequestOptions): Promise<RawReply> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const sock = connect(o.port, o.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(sendTimer);
      sock.destroy();
      resolve({ ...parse(Buffer.concat(chunks).toString('latin1')), closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(finish, o.timeoutMs ?? 5_000);
    let sendTimer: NodeJS.Timeout | undefined;
    let i = 0;
    const sendNext = () => {
      if (finished || sock.destroyed || i >= o.pieces.length) return;
      sock.write(o.pieces[i++]!, () => undefined);
      if (i < o.pieces.length) sendTimer = setTimeout(sendNext, o.gapMs ?? 0);
    };
    sock.on('connect', sendNext);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      // A complete response with a content-length: no need to wait for the close.
      const p = parse(Buffer.concat(chunks).toString('latin1'));
      const len = Number(p.headers['content-length']);
      if (p.status !== null && Number.isFinite(len) && Buffer.byteLength(p.body, 'latin1') >= len) finish();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish();
    });
  });
}

function parse(text: string): Pick<RawReply, 'status' | 'headers' | 'body'> {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { status: null, headers: {}, body: '' };
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  let body = text.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status: m ? Number(m[1]) : null, headers, body };
}

function dechunk(s: string): string {
  let out = '';
  let rest = s;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) return out;
    const n = parseInt(rest.slice(0, nl), 16);
    if (!Number.isFinite(n) || n === 0) return out;
    out += rest.slice(nl + 2, nl + 2 + n);
    rest = rest.slice(nl + 4 + n);
  }
}

/** The stable code of an error reply: `{error: {code}}` (admin) or a feedback answer's `code`. */
export function replyCode(r: RawReply): string | null {
  try {
    const j = JSON.parse(r.body) as { error?: { code?: string }; code?: string };
    return j.error?.code ?? j.code ?? null;
  } catch {
    return null;
  }
}
