import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { loadRewrites } from '../../src/rewrite/arm-rewrites.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eb-rewrites-'));
  await writeFile(join(dir, 'token'), 'sk-abc123\n');
  await writeFile(join(dir, 'two-lines'), 'a\nb\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const yaml = (rewriteA: string, extra = '') => `
routes:
  - name: chat
${extra}
    arms:
      - { name: a, cluster: ca, rewrite: ${rewriteA} }
      - { name: b, cluster: cb }
`;
const parse = (text: string) => {
  const r = parseConfig(text, { env: {} });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
};

describe('per-arm rewrites', () => {
  it('compiles host, headers and secret headers into one edit list per arm', async () => {
    const cfg = parse(yaml(`{ host: a.models.example.com, headers: { X-Tenant: t1 }, secret_headers: { Authorization: { file: ${dir}/token, prefix: "Bearer " } }, model: llama }`, '    body_rewrite: {}'));
    const r = await loadRewrites(cfg);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const arms = r.value.get('chat')!;
    expect(arms[0]).toEqual({
      headers: [[':authority', 'a.models.example.com'], ['x-tenant', 't1'], ['authorization', 'Bearer sk-abc123']],
      model: 'llama',
    });
    expect(arms[1]).toBeNull();
    expect(cfg.routes[0]!.body_rewrite).toEqual({ max_bytes: 1024 * 1024 });
  });

  it('a route without rewrites has no entry', async () => {
    const r = await loadRewrites(parse(yaml('null')));
    expect(r.ok && r.value.size).toBe(0);
  });

  it('an unreadable or multi-line secret file is an issue naming the field', async () => {
    const r = await loadRewrites(parse(yaml(`{ secret_headers: { authorization: { file: ${dir}/missing }, x-key: { file: ${dir}/two-lines } } }`)));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.map((i) => i.path)).toEqual([
      'routes[0].arms[0].rewrite.secret_headers.authorization.file',
      'routes[0].arms[0].rewrite.secret_headers.x-key.file',
    ]);
    expect(r.error[0]).toMatchObject({ code: 'EB_CONFIG_READ', message: expect.stringMatching(/cannot read .*missing: file not found/) });
    expect(r.error[1]).toMatchObject({ code: 'EB_CONFIG_INVALID', message: expect.stringMatching(/one line of printable ASCII/) });
  });
});

describe('rewrite config errors carry the path of the bad field', () => {
  const issues = (text: string) => {
    const r = parseConfig(text, { env: {} });
    return r.ok ? [] : r.error;
  };
  it('model without the route opting into body rewrites', () => {
    expect(issues(yaml('{ model: llama }'))).toEqual([
      { path: 'routes[0].arms[0].rewrite.model', message: expect.stringMatching(/needs body_rewrite on the route/) },
    ]);
  });
  it('reserved and malformed header names, bad values, unknown keys, a bad host, a bad limit', () => {
    const found = issues(
      yaml('{ headers: { x-bandit-cluster: x, "a b": y, x-ok: "line\\nbreak" }, hots: a, host: "a/b" }', '    body_rewrite: { max_bytes: 0 }'),
    ).map((i) => i.path);
    expect(found).toEqual(expect.arrayContaining([
      'routes[0].arms[0].rewrite.headers.x-ok',
      'routes[0].arms[0].rewrite.host',
      'routes[0].body_rewrite.max_bytes',
    ]));
    expect(found.some((p) => p.startsWith('routes[0].arms[0].rewrite'))).toBe(true);
    const names = issues(yaml('{ headers: { x-bandit-cluster: x, "a b": y } }'));
    expect(names).toEqual([
      { path: 'routes[0].arms[0].rewrite.headers.x-bandit-cluster', message: expect.stringMatching(/cannot be rewritten/) },
      { path: 'routes[0].arms[0].rewrite.headers["a b"]', message: expect.stringMatching(/not an HTTP token/) },
    ]);
  });
});
