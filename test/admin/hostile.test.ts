/**
 * The admin API's hostile-input table, over real sockets to a real Sidecar: every
 * row gets a 4xx with a stable code (never a 500, never a hang), and the server
 * still answers afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actual, expected, HOSTILE_LIMITS, HOSTILE_TOKEN, http, runRows, startAdminSidecar, type AdminSidecar, type Row } from '../support/hostile.js';
import { rawRequest } from '../support/raw-http.js';

const T = { token: true };
const MIB = 1 << 20;

const ROWS: Row[] = [
  { name: 'control: GET /healthz', pieces: [http('GET', '/healthz')], status: 200, code: null },
  { name: 'absolute-form target that parses', pieces: [http('GET', 'http://admin.local/healthz')], status: 200, code: null },
  { name: 'malformed absolute URL (port not a number)', pieces: [http('GET', 'http://x:bad/v1/routes', T)], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'absolute URL with an empty host', pieces: [http('GET', 'http://:80/healthz')], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'asterisk-form target', pieces: [http('GET', '*')], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'authority-form target', pieces: [http('GET', 'admin:80')], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'unknown method', pieces: [http('BREW', '/v1/routes', T)], status: 501, code: 'EB_ADMIN_METHOD_NOT_ALLOWED' },
  { name: 'known method the endpoint does not take', pieces: [http('DELETE', '/v1/routes', T)], status: 405, code: 'EB_ADMIN_METHOD_NOT_ALLOWED' },
  { name: 'GET on a POST endpoint', pieces: [http('GET', '/v1/routes/chat/pause', T)], status: 405, code: 'EB_ADMIN_METHOD_NOT_ALLOWED' },
  { name: 'unknown endpoint', pieces: [http('GET', '/v1/nope')], status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'unknown route', pieces: [http('POST', '/v1/routes/nope/pause', T)], status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'invalid percent-encoding in a route name', pieces: [http('POST', '/v1/routes/%zz%E0%A4/pause', T)], status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'unknown arm', pieces: [http('POST', '/v1/routes/chat/arms/nope/quarantine', T)], status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'mutation without the token', pieces: [http('POST', '/v1/routes/chat/pause')], status: 401, code: 'EB_ADMIN_UNAUTHORIZED' },
  { name: 'mutation with a wrong token', pieces: [http('POST', '/v1/routes/chat/pause', { headers: { authorization: 'Bearer nope' } })], status: 401, code: 'EB_ADMIN_UNAUTHORIZED' },
  { name: 'bad JSON body', pieces: [http('POST', '/v1/routes/nope/pause', { ...T, body: '{"a": tru' })], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'JSON nested 200,000 deep (parses; unknown route)', pieces: [http('POST', '/v1/routes/nope/pause', { ...T, body: '['.repeat(200_000) + ']'.repeat(200_000) })], status: 404, code: 'EB_ADMIN_NOT_FOUND' },
  { name: 'body over the limit (2 MiB)', pieces: [http('POST', '/v1/routes/chat/pause', { ...T, body: 'x'.repeat(2 * MIB) })], status: 413, code: 'EB_ADMIN_TOO_LARGE' },
  { name: 'declared length of 1 TB, no body sent', pieces: [http('POST', '/v1/routes/chat/pause', { ...T, headers: { 'content-length': String(1e12) } })], status: 413, code: 'EB_ADMIN_TOO_LARGE' },
  { name: 'chunked body over the limit', pieces: [http('POST', '/v1/feedback', { ...T, headers: { 'transfer-encoding': 'chunked' }, body: `${(2 * MIB).toString(16)}\r\n${'y'.repeat(2 * MIB)}\r\n0\r\n\r\n` })], status: 413, code: 'EB_ADMIN_TOO_LARGE' },
  { name: 'headers over 16 KiB', pieces: [http('GET', '/healthz', { headers: { 'x-big': 'h'.repeat(64 * 1024) } })], status: 431, code: 'EB_ADMIN_TOO_LARGE' },
  { name: 'content-length not a number', pieces: [http('POST', '/v1/feedback', { ...T, headers: { 'content-length': 'abc' } })], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'content-length and chunked together', pieces: [http('POST', '/v1/feedback', { ...T, headers: { 'content-length': '3', 'transfer-encoding': 'chunked' }, body: '0\r\n\r\n' })], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'control byte in a header value', pieces: [http('GET', '/healthz', { headers: { 'x-a': 'a\u0001b' } })], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'not HTTP at all', pieces: ['\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003garbage\r\n\r\n'], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  { name: 'operator name too long', pieces: [http('POST', '/v1/routes/chat/pause', { ...T, headers: { 'x-bandit-operator': 'o'.repeat(1000) } })], status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
  {
    name: 'slow headers (slowloris): a header line every 150 ms, never finished',
    pieces: ['GET /healthz HTTP/1.1\r\nhost: admin\r\n', ...Array.from({ length: 12 }, (_, i) => `x-h${i}: 1\r\n`)],
    gapMs: 150,
    status: 408,
    code: 'EB_ADMIN_TIMEOUT',
  },
  {
    name: 'slow body: one byte every 150 ms of a declared 64',
    pieces: [`POST /v1/feedback HTTP/1.1\r\nhost: admin\r\nauthorization: Bearer ${HOSTILE_TOKEN}\r\ncontent-length: 64\r\n\r\n`, ...Array.from({ length: 12 }, () => '{')],
    gapMs: 150,
    status: 408,
    code: 'EB_ADMIN_TIMEOUT',
  },
];

describe('admin API: hostile inputs', () => {
  let s: AdminSidecar;
  beforeAll(async () => {
    s = await startAdminSidecar();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('answers every row with its 4xx and stable code (no 500, no hang), then still answers', async () => {
    const results = await runRows(s.port, ROWS);
    expect(actual(results)).toEqual(expected(ROWS));
    // The slow rows are cut at the limit, not at the client's pace (12 pieces × 150 ms = 1.8 s).
    for (const r of results.filter((x) => x.name.startsWith('slow'))) expect(r.ms, r.name).toBeLessThan(HOSTILE_LIMITS.headersTimeoutMs + HOSTILE_LIMITS.bodyTimeoutMs + 1_000);
    const after = await rawRequest({ port: s.port, pieces: [http('GET', '/v1/routes', { token: true })] });
    expect(after.status).toBe(200);
    expect((JSON.parse(after.body) as { routes: unknown[] }).routes).toHaveLength(2);
  });

  it('a route that pauses on a good request still pauses (the table changed nothing it should not)', async () => {
    const r = await rawRequest({ port: s.port, pieces: [http('GET', '/v1/routes', { token: true })] });
    const routes = (JSON.parse(r.body) as { routes: Array<{ name: string; mode: string }> }).routes;
    expect(routes.map((x) => [x.name, x.mode])).toEqual([
      ['chat', 'active'],
      ['plain', 'active'],
    ]);
    const paused = await rawRequest({ port: s.port, pieces: [http('POST', '/v1/routes/plain/pause', { token: true })] });
    expect(paused.status).toBe(200);
  });
});
