/**
 * `validate` and `serve` agree on every address form: each form below is
 * validated as a config (`parseConfig`, what `envoy-bandit validate` runs) and,
 * when it is accepted, served (a real Sidecar binds ext_proc, admin and gossip
 * on it and stops). One parser (`src/util/address.ts`) serves both.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { listenAddress, listenFailure, parseAddress } from '../../src/util/address.js';
import { silentLogger } from '../../src/util/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'eb-address-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secret = join(dir, 'gossip.key');
writeFileSync(secret, 'a-gossip-secret-of-enough-length-0123456789');

const ROUTES = `
routes:
  - name: chat
    match: { path_prefix: /v1 }
    arms: [{ name: a, cluster: a }, { name: b, cluster: b }]
    default_arm: a
`;

/** Every listener on one host form (port 0), or unix sockets in a temp dir (gossip is TCP only: loopback then). */
function configFor(form: string, gossipSecret: boolean): string {
  const at = (name: string) => (form === 'unix' ? `unix:${join(dir, `${name}.sock`)}` : `${form}:0`);
  return `
replica_id: r1
listen: { ext_proc: "${at('extproc')}", admin: "${at('admin')}" }
gossip: { listen: "${form === 'unix' ? '127.0.0.1:0' : at('gossip')}", peers: [], secret_file: ${gossipSecret ? secret : 'null'} }
${ROUTES}`;
}

async function serves(yaml: string): Promise<void> {
  const cfg = parseConfig(yaml, { env: {} });
  if (!cfg.ok) throw new Error('expected a valid config');
  const sidecar = await Sidecar.create({ config: cfg.value, logger: silentLogger(), seed: 1, env: {} });
  try {
    await sidecar.start();
  } finally {
    await sidecar.stop(100);
  }
}

describe('validate and serve agree on every address form', () => {
  // Loopback forms: valid without a gossip secret, and served.
  it.each(['127.0.0.1', '127.0.0.2', 'localhost', 'LOCALHOST', 'LocalHost', '[::1]', 'unix'])('%s: valid, and serve binds it', async (form) => {
    const yaml = configFor(form, false);
    expect(parseConfig(yaml, { env: {} }).ok).toBe(true);
    await serves(yaml);
  });

  // Wildcard: not loopback, so validate asks for the gossip secret (and the admin token); with them, served.
  it('0.0.0.0 for gossip: refused without gossip.secret_file, served with it', async () => {
    const without = parseConfig(configFor('127.0.0.1', false).replace(/gossip: \{ listen: "[^"]+"/, 'gossip: { listen: "0.0.0.0:0"'), { env: {} });
    expect(without.ok).toBe(false);
    if (!without.ok) expect(without.error.map((i) => i.path)).toEqual(['gossip.secret_file']);
    const withSecret = configFor('127.0.0.1', true).replace(/gossip: \{ listen: "[^"]+"/, 'gossip: { listen: "0.0.0.0:0"');
    expect(parseConfig(withSecret, { env: {} }).ok).toBe(true);
    await serves(withSecret);
  });

  // Malformed forms: validate names the field; the runtime parser refuses them with a coded error, never binds something else.
  it.each(['127.0.0.1', 'unix:/tmp/gossip.sock', ':7946', '999.1.1.1:7946', '[::1]', '::1:7946', 'host name:80', '127.0.0.1:65536', 'unix:'])('%s: invalid in config and at the listener', (text) => {
    const res = parseConfig(configFor('127.0.0.1', true).replace(/gossip: \{ listen: "[^"]+"/, `gossip: { listen: "${text}"`), { env: {} });
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.map((i) => i.path)).toContain('gossip.listen');
    if (text.startsWith('unix:/')) return; // a valid address, but gossip peers need host:port
    expect(parseAddress(text)).toBeUndefined();
    expect(() => listenAddress(text)).toThrow(expect.objectContaining({ code: 'EB_CONFIG_INVALID' }) as Error);
  });
});

describe('a listen that fails names the config key, the address and the cause', () => {
  it('maps address-in-use, not-available and permission errors (grpc-js folds them into its message) to EB_SETUP; others pass unchanged', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:9464'), { code: 'EADDRINUSE' });
    expect(listenFailure('listen.admin', '127.0.0.1:9464', inUse)).toMatchObject({
      code: 'EB_SETUP',
      message: 'cannot listen on listen.admin 127.0.0.1:9464: the address is already in use (another process, or another envoy-bandit, listens there); stop that process or change listen.admin',
    });
    const grpc = new Error('No address added out of total 1 resolved errors: [listen EADDRINUSE: address already in use 127.0.0.1:7946]');
    expect(listenFailure('gossip.listen', '127.0.0.1:7946', grpc)).toMatchObject({ code: 'EB_SETUP', message: expect.stringContaining('gossip.listen 127.0.0.1:7946: the address is already in use') });
    expect(listenFailure('listen.ext_proc', '10.9.9.9:1', Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' }))).toMatchObject({ message: expect.stringContaining('this machine has no such address') });
    const other = new Error('something else');
    expect(listenFailure('listen.admin', '127.0.0.1:1', other)).toBe(other);
  });

  it.each(['listen.admin', 'listen.ext_proc', 'gossip.listen'])('a real sidecar whose %s is taken fails to start with that key', async (key) => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const yaml = configFor('127.0.0.1', false).replace(key === 'gossip.listen' ? /(gossip: \{ listen: ")[^"]+/ : key === 'listen.admin' ? /(admin: ")[^"]+/ : /(ext_proc: ")[^"]+/, `$1127.0.0.1:${port}`);
    const cfg = parseConfig(yaml, { env: {} });
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
    const sidecar = await Sidecar.create({ config: cfg.value, logger: silentLogger(), seed: 1, env: {} });
    try {
      await expect(sidecar.start()).rejects.toMatchObject({ code: 'EB_SETUP', message: expect.stringContaining(`cannot listen on ${key} 127.0.0.1:${port}: the address is already in use`) });
    } finally {
      await sidecar.stop(100);
      await new Promise((r) => taken.close(r));
    }
  });
});
