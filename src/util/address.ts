/**
 * Listen and peer addresses — `host:port`, `[v6]:port` or `unix:/path` — for
 * config validation and for the servers that listen on them: one parser, so
 * what `validate` accepts is what `serve` binds.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { BanditError, ErrorCodes } from './errors.js';

export type Address =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const PORT_RE = /^\d{1,5}$/;

/** Parses an address; undefined when malformed. The port may be 0 (listen on any free port). */
export function parseAddress(text: string): Address | undefined {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    return path.length > 0 && !/[\0\n]/.test(path) ? { kind: 'unix', path } : undefined;
  }
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (!PORT_RE.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  if (host.startsWith('[') && host.endsWith(']')) {
    host = host.slice(1, -1);
    return isIPv6(host) ? { kind: 'tcp', host, port } : undefined;
  }
  if (isIPv4(host)) return { kind: 'tcp', host, port };
  // all-numeric labels that are not an IPv4 address (999.1.1.1) are typos, not hostnames
  if (HOSTNAME_RE.test(host) && !/^[\d.]+$/.test(host)) return { kind: 'tcp', host, port };
  return undefined;
}

/** Loopback: 127.0.0.0/8, ::1, localhost, and unix sockets (local by nature). */
export function isLoopback(addr: Address): boolean {
  if (addr.kind === 'unix') return true;
  const h = addr.host.toLowerCase();
  return h === 'localhost' || h === '::1' || (isIPv4(h) && h.startsWith('127.'));
}

/**
 * The address a server listens on. Config has validated it; a malformed one
 * (a caller that bypassed config) is a coded error naming the text.
 */
export function listenAddress(text: string): Address {
  const addr = parseAddress(text);
  if (!addr) throw new BanditError(ErrorCodes.CONFIG_INVALID, `not a listen address: ${JSON.stringify(text)} (expected host:port, [v6]:port or unix:/path)`);
  return addr;
}

/** Why a listen fails that the operator can fix, by errno (grpc-js folds it into its message). */
const LISTEN_FAILURES: ReadonlyArray<[code: string, why: string]> = [
  ['EADDRINUSE', 'the address is already in use (another process, or another envoy-bandit, listens there)'],
  ['EADDRNOTAVAIL', 'this machine has no such address'],
  ['EACCES', 'permission denied (a port below 1024, or a socket path that is not writable)'],
];

/**
 * A listen that failed, as the operator should read it: the config key, the
 * address and the cause (EB_SETUP). Errors of another kind pass unchanged.
 */
export function listenFailure(key: string, address: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const hit = LISTEN_FAILURES.find(([c]) => c === code || message.includes(c));
  if (!hit) return err;
  return new BanditError(ErrorCodes.SETUP, `cannot listen on ${key} ${address}: ${hit[1]}; stop that process or change ${key}`);
}
