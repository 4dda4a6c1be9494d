import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback, parseAddress } from '../../src/util/address.js';
import { formatPath } from '../../src/config/issues.js';
import { expandEnv, formatIssues, loadConfigFile, parseConfig } from '../../src/config/load.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

describe('expandEnv', () => {
  it('expands ${VAR} and ${VAR:-default}', () => {
    expect(expandEnv('a: ${A}\nb: ${B:-two}\nc: ${C:-}\n', { A: 'one' })).toEqual({ ok: true, value: 'a: one\nb: two\nc: \n' });
  });

  it('prefers a set value over the default', () => {
    expect(expandEnv('x: ${A:-no}', { A: 'yes' })).toEqual({ ok: true, value: 'x: yes' });
  });

  it('names every unset variable and its line', () => {
    const r = expandEnv('a: 1\nb: ${FIRST}\nc: ${SECOND}\n', {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.map((i) => i.path)).toEqual(['line 2', 'line 3']);
    expect(r.error[0]!.message).toMatch(/FIRST is not set/);
    expect(r.error[1]!.message).toMatch(/SECOND is not set/);
  });

  it('reports a malformed reference', () => {
    const r = expandEnv('a: ${1BAD}\n', {});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error[0]!.message).toMatch(/malformed/);
  });

  it('leaves comments, $${ and a lone $ alone', () => {
    expect(expandEnv('a: $${X} cost $5 # ${UNSET}\n# ${UNSET}\n', {})).toEqual({ ok: true, value: 'a: ${X} cost $5 # ${UNSET}\n# ${UNSET}\n' });
  });

  it('does not re-expand a value that contains a reference', () => {
    expect(expandEnv('a: ${A}', { A: '${B}' })).toEqual({ ok: true, value: 'a: ${B}' });
  });
});

describe('issue paths and formatting', () => {
  it('formats paths in a.b[0].c form', () => {
    expect(formatPath(['routes', 0, 'arms', 1, 'cluster'])).toBe('routes[0].arms[1].cluster');
    expect(formatPath(['routes', 0, 'policy', 'weights', 'model-a'])).toBe('routes[0].policy.weights.model-a');
    expect(formatPath(['weights', 'a.b'])).toBe('weights["a.b"]');
    expect(formatPath([])).toBe('');
  });

  it('formats issues as path: message', () => {
    expect(formatIssues([{ path: 'routes[0].arms[1].cluster', message: 'required' }, { path: '', message: 'expected a mapping' }])).toEqual([
      'routes[0].arms[1].cluster: required',
      '(root): expected a mapping',
    ]);
  });

  it('reports YAML syntax errors at their line and column in the source, past expanded variables', () => {
    const text = 'replica_id: ${LONG}\nroutes:\n  - name: chat\n   bad: [\n';
    const r = parseConfig(text, { env: { LONG: 'a-much-longer-value-than-the-reference' } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.length).toBeGreaterThan(0);
    for (const i of r.error) {
      expect(i.path).toMatch(/^line \d+, col \d+$/);
      expect(i.message).toMatch(/^YAML: /);
    }
    expect(r.error[0]!.path).toMatch(/^line 4,/);
  });

  it('rejects duplicate keys and multiple documents', () => {
    const dup = parseConfig('routes: []\nroutes: []\n', { env: {} });
    expect(dup.ok).toBe(false);
    if (!dup.ok) expect(dup.error[0]!.message).toMatch(/unique/);
    const multi = parseConfig('a: 1\n---\nb: 2\n', { env: {} });
    expect(multi.ok).toBe(false);
  });

  it('reports a document that is not a mapping at the root', () => {
    for (const text of ['', '42', '- a\n- b\n']) {
      const r = parseConfig(text, { env: {} });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(formatIssues(r.error)[0]).toMatch(/^\(root\): expected a mapping/);
    }
  });

  it('refuses alias bombs', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join('\n');
    const r = parseConfig(bomb, { env: {} });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toEqual([{ path: '', message: expect.stringMatching(/^YAML: .*alias/i) }]);
  });
});

describe('addresses', () => {
  it.each([
    ['127.0.0.1:50051', { kind: 'tcp', host: '127.0.0.1', port: 50051 }],
    ['localhost:0', { kind: 'tcp', host: 'localhost', port: 0 }],
    ['[::1]:9464', { kind: 'tcp', host: '::1', port: 9464 }],
    ['svc.ns.svc.cluster.local:7946', { kind: 'tcp', host: 'svc.ns.svc.cluster.local', port: 7946 }],
    ['unix:/var/run/eb.sock', { kind: 'unix', path: '/var/run/eb.sock' }],
  ])('parses %s', (text, addr) => {
    expect(parseAddress(text)).toEqual(addr);
  });

  it.each(['127.0.0.1', ':80', '127.0.0.1:65536', '::1:80', 'host:-1', 'unix:', 'http://x:80', '999.1.1.1:80', 'a b:80'])('rejects %j', (text) => {
    expect(parseAddress(text)).toBeUndefined();
  });

  it('knows loopback', () => {
    const lo = (s: string) => isLoopback(parseAddress(s)!);
    expect(['127.0.0.1:1', '127.1.2.3:1', 'localhost:1', '[::1]:1', 'unix:/x'].map(lo)).toEqual([true, true, true, true, true]);
    expect(['0.0.0.0:1', '10.0.0.1:1', '[::]:1', 'example.com:1', '128.0.0.1:1'].map(lo)).toEqual([false, false, false, false, false]);
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eb-load-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the examples', async () => {
    const bandit = await loadConfigFile(join(EXAMPLES, 'bandit.yaml'), { env: {}, hostname: 'h' });
    expect(bandit.ok).toBe(true);
    if (bandit.ok) {
      expect(bandit.value.replica_id).toBe('h');
      expect(bandit.value.listen.ext_proc).toBe('127.0.0.1:50051');
      expect(bandit.value.routes.map((r) => r.name)).toEqual(['chat', 'completions']);
      expect(bandit.value.routes[0]!.arms.map((a) => a.cluster)).toEqual(['model_a', 'model_b', 'model_c']);
      expect(bandit.value.routes[0]!.policy).toMatchObject({ type: 'thompson', drift: { mode: 'half_life', half_life_ms: 600_000 } });
      expect(bandit.value.routes[0]!.reward.latency).toEqual({ slo_ms: 800, measure: 'ttfb' });
    }
    const minimal = await loadConfigFile(join(EXAMPLES, 'minimal.yaml'), { env: {}, hostname: 'h' });
    expect(minimal.ok).toBe(true);
    if (minimal.ok) expect(minimal.value.replica_id).toBe('h');
  });

  it('reports read errors as issues naming the file', async () => {
    const missing = join(dir, 'nope.yaml');
    expect(await loadConfigFile(missing)).toEqual({ ok: false, error: [{ path: missing, message: 'cannot read config: file not found' }] });
    expect(await loadConfigFile(dir)).toEqual({ ok: false, error: [{ path: dir, message: 'cannot read config: is a directory' }] });
  });

  it('takes env and hostname from the options', async () => {
    const file = join(dir, 'env.yaml');
    await writeFile(file, 'replica_id: ${EB_POD}\nroutes: [{ name: r, arms: [{ name: a, cluster: c }] }]\n');
    const r = await loadConfigFile(file, { env: { EB_POD: 'pod-1' } });
    expect(r.ok && r.value.replica_id).toBe('pod-1');
  });
});
