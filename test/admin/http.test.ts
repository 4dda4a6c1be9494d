/** The admin server's token rules: mutations always need it; off loopback, reads other than probes and metrics do too. */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminServer, PUBLIC_PATHS } from '../../src/admin/http.js';
import { silentLogger } from '../../src/util/logger.js';

const TOKEN = 'admin-token-7f3a9c2e5b1d8046';
let admin: AdminServer | null = null;
afterEach(async () => {
  await admin?.close();
  admin = null;
});

async function start(protectReads: boolean): Promise<string> {
  admin = new AdminServer({ address: '127.0.0.1:0', logger: silentLogger(), registry: new Registry(), token: TOKEN, protectReads, readiness: () => ({ ready: true, checks: {} }) });
  admin.add({ method: 'GET', path: '/v1/routes', mutating: false, handle: () => ({ status: 200, body: { routes: [] } }) });
  const a = await admin.start();
  return `http://127.0.0.1:${a.port}`;
}

const get = (url: string, token?: string) => fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('AdminServer tokens', () => {
  it('protectReads: /v1 reads need the token; probes and /metrics stay open', async () => {
    const base = await start(true);
    const denied = await get(`${base}/v1/routes`);
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('EB_ADMIN_UNAUTHORIZED');
    expect((await get(`${base}/v1/routes`, TOKEN)).status).toBe(200);
    for (const p of PUBLIC_PATHS) expect((await get(`${base}${p}`)).status, p).toBe(200);
  });

  it('on loopback (no protectReads) reads are open', async () => {
    const base = await start(false);
    expect((await get(`${base}/v1/routes`)).status).toBe(200);
  });
});

describe('AdminServer errors', () => {
  it('a handler that throws answers 500 with EB_INTERNAL, not a client-error code', async () => {
    const base = await start(false);
    admin!.add({
      method: 'GET',
      path: '/v1/broken',
      mutating: false,
      handle: () => {
        throw new RangeError('a bug');
      },
    });
    const res = await get(`${base}/v1/broken`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'EB_INTERNAL', message: 'internal error' } });
  });
});
