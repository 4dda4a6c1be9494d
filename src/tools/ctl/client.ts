/**
 * A small client for one replica's admin API: JSON over HTTP with the bearer
 * token, a timeout, and every failure turned into a CtlError that says what
 * went wrong in operator terms (unreachable, token refused, not found).
 */
export const CTL_DEFAULT_TIMEOUT_MS = 5_000;

export type CtlErrorKind = 'unreachable' | 'unauthorized' | 'not_found' | 'refused' | 'bad_reply';

export class CtlError extends Error {
  constructor(
    readonly kind: CtlErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'CtlError';
  }
}

/** `host:port`, `http://host:port` or `https://…` → a base URL without a trailing slash. */
export function adminBaseUrl(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CtlError('bad_reply', `--admin ${JSON.stringify(text)} is not a URL or host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CtlError('bad_reply', `--admin ${JSON.stringify(text)}: use http:// or https://`);
  return url.toString().replace(/\/+$/, '');
}

export class AdminClient {
  constructor(
    readonly base: string,
    private readonly token: string | null,
    private readonly timeoutMs = CTL_DEFAULT_TIMEOUT_MS,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string): Promise<T> {
    return this.call<T>('POST', path);
  }

  private async call<T>(method: string, path: string): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = (e as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (cause?.code ?? cause?.message ?? (e as Error).message);
      throw new CtlError('unreachable', `cannot reach the admin API at ${this.base}: ${why}`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new CtlError('bad_reply', `${method} ${this.base}${path}: HTTP ${res.status}, not JSON (is this an envoy-bandit admin port?)`);
    }
    if (res.ok) return body as T;
    const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    const detail = err ? `${err.message} (${err.code})` : `HTTP ${res.status}`;
    if (res.status === 401) {
      const hint = this.token === null ? 'no token given: use --token, --token-file or ENVOY_BANDIT_TOKEN' : 'the token was refused';
      throw new CtlError('unauthorized', `${method} ${this.base}${path}: ${hint}: ${detail}`);
    }
    if (res.status === 404) throw new CtlError('not_found', `${method} ${this.base}${path}: ${detail}`);
    throw new CtlError('refused', `${method} ${this.base}${path}: ${detail}`);
  }
}
