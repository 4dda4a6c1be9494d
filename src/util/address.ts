export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** `host:port`, `[::1]:port` or `unix:/path`. Assumes the config validated the form. */
export function parseListenAddress(text: string): ListenAddress {
  if (text.startsWith('unix:')) return { kind: 'unix', path: text.slice(5) };
  const i = text.lastIndexOf(':');
  const host = text.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { kind: 'tcp', host, port: Number(text.slice(i + 1)) };
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
