/**
 * The candidate peers of a round: the static list plus the A/AAAA records of
 * `dns`, re-resolved every round, minus ourselves; and a random pick of
 * `fanout` of them (partial Fisher-Yates with the injected RNG).
 */
import { promises as dnsPromises } from 'node:dns';
import type { Rng } from '../util/rng.js';
import { listenAddress } from '../util/address.js';

export interface DnsResolver {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

export const systemResolver: DnsResolver = {
  resolve4: (n) => dnsPromises.resolve4(n),
  resolve6: (n) => dnsPromises.resolve6(n),
};

/** `name` or `name:port` → name and port (the gossip listen port when absent). */
export function splitDnsName(dns: string, defaultPort: number): { name: string; port: number } {
  const [, name, port] = /^(.*):(\d+)$/.exec(dns) ?? [];
  if (name !== undefined && port !== undefined && !dns.includes('::')) return { name, port: Number(port) };
  return { name: dns, port: defaultPort };
}

const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

export interface ResolveResult {
  addresses: string[];
  /** Set when the DNS lookup failed (both families); the static list is still used. */
  dnsError: string | null;
}

export async function resolvePeers(
  staticPeers: readonly string[],
  dns: string | null,
  listen: string,
  resolver: DnsResolver,
): Promise<ResolveResult> {
  const listenAddr = listenAddress(listen);
  const listenPort = listenAddr.kind === 'tcp' ? listenAddr.port : 0;
  const out = new Set(staticPeers);
  let dnsError: string | null = null;
  if (dns) {
    const { name, port } = splitDnsName(dns, listenPort);
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
    const found = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (found.length === 0 && v4.status === 'rejected') dnsError = (v4.reason as Error).message;
    for (const ip of found) out.add(hostPort(ip, port));
  }
  out.delete(listen);
  return { addresses: [...out], dnsError };
}

/** Up to `k` distinct entries of `items`, uniformly at random. */
export function pickRandom<T>(items: readonly T[], k: number, rng: Rng): T[] {
  const a = items.slice();
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rng.next() * (a.length - i));
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- i < n <= a.length and i <= j < a.length
    const t = a[i]!;
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- i < n <= a.length and i <= j < a.length
    a[i] = a[j]!;
    a[j] = t;
  }
  return a.slice(0, n);
}
