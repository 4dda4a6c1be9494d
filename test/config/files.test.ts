/**
 * Every file a config names (config/files.ts) is checked before anything
 * listens, by `validate` and by `serve` alike, with the loaders the start
 * uses: placeholder, short and weak secrets, unusable TLS sets, warm-start
 * sources and credentials, each reported at the config path naming the file
 * with a stable code.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../src/cli/io.js';
import { loadServerCommand } from '../../src/cli/server-command.js';
import { main } from '../../src/cli/main.js';
import { checkConfigFiles } from '../../src/config/files.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { BanditError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/logger.js';
import { makeCa, makeLeaf } from '../support/certs.js';
import { secretProblem } from '../../src/util/secret-strength.js';
import { readSecret } from '../../src/util/secret.js';

describe('secretProblem', () => {
  it.each([
    ['REPLACE-ME', /placeholder/],
    ['REPLACE-ME-with-a-long-random-value', /placeholder/],
    ['changeme-changeme-changeme', /placeholder/],
    ['short-1234', /shorter than 16/],
    ['aaaaaaaaaaaaaaaaaaaaaaaa', /too weak/],
    ['abababababababababababab', /too weak/],
    ['', /empty/],
  ])('refuses %j', (text, why) => {
    expect(secretProblem(text)).toMatch(why);
  });

  it('accepts generated secrets (openssl rand -hex 32, 16 random bytes as base64url)', () => {
    for (let i = 0; i < 50; i++) {
      expect(secretProblem(randomBytes(32).toString('hex'))).toBeUndefined();
      expect(secretProblem(randomBytes(16).toString('base64url'))).toBeUndefined();
    }
  });
});

describe('secret files at start', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eb-secrets-'));
    await writeFile(join(dir, 'placeholder'), 'REPLACE-ME\n');
    await writeFile(join(dir, 'weak'), '1111111111111111111111');
    await writeFile(join(dir, 'good'), randomBytes(32).toString('hex'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const config = (admin: string, gossip: string, ids: string) => {
    const res = parseConfig(
      `listen: { admin: 0.0.0.0:0 }\nadmin: { token_file: ${admin} }\ngossip: { listen: 0.0.0.0:0, secret_file: ${gossip} }\ndecision_ids: { secret_file: ${ids} }\nroutes:\n  - name: chat\n    arms: [{ name: a, cluster: a }]\n`,
    );
    if (!res.ok) throw new Error(JSON.stringify(res.error));
    return res.value;
  };

  it('reports each bad file at the config path that names it', async () => {
    const issues = await checkConfigFiles(config(join(dir, 'placeholder'), join(dir, 'weak'), join(dir, 'missing')));
    expect(issues.map((i) => i.path)).toEqual(['admin.token_file', 'gossip.secret_file', 'decision_ids.secret_file']);
    expect(issues[0]!.message).toMatch(/placeholder/);
    expect(issues[1]!.message).toMatch(/too weak/);
    expect(issues[2]!.message).toMatch(/not found/);
    expect(await checkConfigFiles(config(join(dir, 'good'), join(dir, 'good'), join(dir, 'good')))).toEqual([]);
  });

  it('readSecret refuses a placeholder, and a missing file, with coded errors naming the file', async () => {
    expect(await readSecret(join(dir, 'placeholder'))).toMatchObject({ ok: false, error: { code: 'EB_CONFIG_INVALID', message: expect.stringContaining('placeholder') } });
    expect(await readSecret(join(dir, 'absent'))).toMatchObject({ ok: false, error: { code: 'EB_CONFIG_READ', message: `cannot read ${join(dir, 'absent')}: file not found` } });
    expect(await readSecret(join(dir, 'good'))).toMatchObject({ ok: true });
  });

  it('serve exits 1 before listening, naming the path and the code', async () => {
    const file = join(dir, 'router.yaml');
    await writeFile(file, `listen: { admin: 0.0.0.0:0, ext_proc: 127.0.0.1:0 }\nadmin: { token_file: ${join(dir, 'placeholder')} }\nroutes:\n  - name: chat\n    arms: [{ name: a, cluster: a }]\n`);
    const io = captureIo({});
    const code = await main(['serve', '--config', file], io);
    expect(code).toBe(1);
    expect(io.err.join('\n')).toContain('EB_CONFIG_INVALID');
    expect(io.err.some((l) => l.trim().startsWith('admin.token_file: ') && l.includes('placeholder'))).toBe(true);
  });
});

/**
 * One table of bad files, each run through `validate` and through serve's
 * start path (the `serve` command, which checks before anything listens, and
 * the sidecar's own start, which reads the same files with the same
 * loaders): all three name the same field with the same code.
 */
describe('validate and serve agree on every file the config names', () => {
  const fdir = mkdtempSync(join(tmpdir(), 'eb-files-'));
  const ca = makeCa(fdir, 'ca');
  const leaf = makeLeaf(fdir, 'member', ca);
  const other = makeLeaf(fdir, 'other', ca);
  const f = (name: string, text: string): string => {
    const p = join(fdir, name);
    writeFileSync(p, text);
    return p;
  };
  const decisionLog = Array.from({ length: 10 }, (_, i) => [
    JSON.stringify({ type: 'decision', id: `d${i}`, time: 1_000 + i, route: 'chat', arm: 'a', propensity: 0.5, reason: 'policy' }),
    JSON.stringify({ type: 'reward', id: `d${i}`, time: 1_000 + i, route: 'chat', arm: 'a', reward: 1, source: 'response' }),
  ]).flat().join('\n');
  const good = {
    admin: f('admin-token', randomBytes(32).toString('hex')),
    gossip: f('gossip-secret', randomBytes(32).toString('hex')),
    ids: f('ids-secret', randomBytes(32).toString('hex')),
    cert: leaf.cert,
    key: leaf.key,
    ca: ca.cert,
    warm: f('decisions.jsonl', decisionLog),
    warmKind: 'decision_log',
    header: f('backend-key', 'sk-backend-0123\n'),
    webhook: f('webhook-token', 'hook-token-0123\n'),
    decisions: join(fdir, 'decisions-out.jsonl'),
    snapshot: join(fdir, 'slot.json'),
  };
  type Files = typeof good;
  const yaml = (x: Files) => `replica_id: r1
listen: { ext_proc: "127.0.0.1:0", admin: "127.0.0.1:0" }
admin: { token_file: ${x.admin} }
decision_ids: { secret_file: ${x.ids} }
gossip: { listen: "127.0.0.1:0", peers: [], secret_file: ${x.gossip} }
tls: { cert: ${x.cert}, key: ${x.key}, ca: ${x.ca} }
notifications: { kubernetes_events: off, webhooks: [{ url: "http://127.0.0.1:9/hook", bearer_token_file: ${x.webhook} }] }
log: { decisions_file: ${x.decisions} }
state: { snapshot_file: ${x.snapshot} }
routes:
  - name: chat
    arms:
      - { name: a, cluster: a, rewrite: { secret_headers: { x-api-key: { file: ${x.header} } } } }
      - { name: b, cluster: b }
    policy: { type: thompson }
    warm_start: { from: ${x.warm}, kind: ${x.warmKind}, effective_samples: 5 }
`;
  let n = 0;
  const configFile = (x: Files) => f(`router-${n++}.yaml`, yaml(x));

  const validate = async (file: string, ...flags: string[]) => {
    const io = captureIo({});
    const code = await main(['validate', '--config', file, '--json', ...flags], io);
    type Issue = { path: string; code?: string };
    return { code, out: JSON.parse(io.out.join('\n')) as { ok: boolean; errors: Issue[]; warnings: Issue[] } };
  };
  /** The sidecar's own start (no pre-check): the error it throws. */
  const sidecarStart = async (file: string): Promise<unknown> => {
    const loaded = await loadConfigFile(file, { env: {} });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
    let sidecar: Sidecar | undefined;
    try {
      sidecar = await Sidecar.create({ config: loaded.value, logger: silentLogger(), seed: 1, env: {} });
      await sidecar.start();
      return null;
    } catch (e) {
      return e;
    } finally {
      await sidecar?.stop(100);
    }
  };

  afterAll(() => rm(fdir, { recursive: true, force: true }));

  const CASES: Array<[string, Partial<Files>, string, 'EB_CONFIG_READ' | 'EB_CONFIG_INVALID' | 'EB_DECISION_LOG_WRITE']> = [
    ['a missing gossip secret', { gossip: join(fdir, 'absent') }, 'gossip.secret_file', 'EB_CONFIG_READ'],
    ['an empty gossip secret', { gossip: f('empty', '\n') }, 'gossip.secret_file', 'EB_CONFIG_INVALID'],
    ['a gossip secret too short', { gossip: f('short', 'a1b2c3d4e5') }, 'gossip.secret_file', 'EB_CONFIG_INVALID'],
    ['an admin token that is a directory', { admin: fdir }, 'admin.token_file', 'EB_CONFIG_READ'],
    ['a placeholder decision-id key', { ids: f('placeholder', 'REPLACE-ME\n') }, 'decision_ids.secret_file', 'EB_CONFIG_INVALID'],
    ['a certificate that does not parse', { cert: f('garbage.crt', 'not a certificate\n') }, 'tls.cert', 'EB_CONFIG_INVALID'],
    ['a key that does not match its certificate', { key: other.key }, 'tls.key', 'EB_CONFIG_INVALID'],
    ['a missing CA file', { ca: join(fdir, 'absent-ca.crt') }, 'tls.ca', 'EB_CONFIG_READ'],
    ['a CA file that is a key', { ca: ca.key }, 'tls.ca', 'EB_CONFIG_INVALID'],
    ['a missing warm-start file', { warm: join(fdir, 'absent.jsonl') }, 'routes[0].warm_start.from', 'EB_CONFIG_READ'],
    ['a malformed decision log', { warm: f('bad.jsonl', `${decisionLog}\n{"type":"decision"\n`) }, 'routes[0].warm_start.from', 'EB_CONFIG_INVALID'],
    ['a warm-start snapshot that is not JSON', { warm: f('bad-snapshot.json', 'slot: 1\n'), warmKind: 'snapshot' }, 'routes[0].warm_start.from', 'EB_CONFIG_INVALID'],
    ['a missing secret-header file', { header: join(fdir, 'absent-key') }, 'routes[0].arms[0].rewrite.secret_headers.x-api-key.file', 'EB_CONFIG_READ'],
    ['a two-line secret-header file', { header: f('two-lines', 'a\nb\n') }, 'routes[0].arms[0].rewrite.secret_headers.x-api-key.file', 'EB_CONFIG_INVALID'],
    ['an empty webhook token', { webhook: f('empty-token', '') }, 'notifications.webhooks[0].bearer_token_file', 'EB_CONFIG_INVALID'],
    ['a decision log in a directory that does not exist', { decisions: join(fdir, 'absent-dir', 'decisions.jsonl') }, 'log.decisions_file', 'EB_DECISION_LOG_WRITE'],
    ['a decision log path that is a directory', { decisions: fdir }, 'log.decisions_file', 'EB_DECISION_LOG_WRITE'],
  ];

  it.each(CASES)('%s: validate, serve and the sidecar start report %s with %s', async (_name, bad, path, code) => {
    const file = configFile({ ...good, ...bad });

    const v = await validate(file);
    expect(v.code).toBe(1);
    expect(v.out.ok).toBe(false);
    expect(v.out.errors.map((e) => [e.path, e.code])).toEqual([[path, code]]);

    const io = captureIo({});
    expect(await main(['serve', '--config', file], io)).toBe(1);
    const lines = io.err.map((l) => l.trim()).filter((l) => l.startsWith(`${path}: `));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`\\[${code}\\]$`));

    const thrown = await sidecarStart(file);
    expect(thrown).toBeInstanceOf(BanditError);
    expect(thrown).toMatchObject({ code, details: [{ path, code }] });
  });

  it('good files pass validate, the check serve runs, and the sidecar start (TLS gossip listening); validate creates nothing', async () => {
    // Fresh output paths: the failed starts above wrote snapshots at stop.
    const outputs = { decisions: join(fdir, 'good-decisions.jsonl'), snapshot: join(fdir, 'good-slot.json') };
    const file = configFile({ ...good, ...outputs });
    const v = await validate(file);
    expect(v).toMatchObject({ code: 0, out: { ok: true, errors: [], warnings: [] } });
    const loaded = await loadConfigFile(file, { env: {} });
    expect(loaded.ok && (await checkConfigFiles(loaded.value))).toEqual([]);
    // serve's check keeps the prior it built, so the start does not parse the source a second time.
    const served = await loadServerCommand('serve', ['--config', file], captureIo({}), []);
    expect(served.ok && [...served.priors.keys()]).toEqual(['chat']);
    expect(served.ok && served.priors.get('chat')?.sourceSamples).toBe(10);
    expect(existsSync(outputs.decisions)).toBe(false);
    expect(existsSync(outputs.snapshot)).toBe(false);
    expect(await sidecarStart(file)).toBeNull();
    expect(existsSync(outputs.decisions)).toBe(true);
    expect(existsSync(outputs.snapshot)).toBe(true);
  });

  it('a snapshot that does not load is a warning in validate, as serve starts with empty state', async () => {
    const file = configFile({ ...good, snapshot: f('corrupt-slot.json', '{"slot": 1}') });
    const v = await validate(file);
    expect(v.code).toBe(0);
    expect(v.out.warnings.map((w) => [w.path, w.code])).toEqual([['state.snapshot_file', 'EB_STATE_CORRUPT']]);
    expect(await sidecarStart(file)).toBeNull();
  });

  it('validate binds nothing: a config whose gossip port is taken still validates', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const port = (holder.address() as AddressInfo).port;
      const file = f('taken.yaml', yaml(good).replace('gossip: { listen: "127.0.0.1:0"', `gossip: { listen: "127.0.0.1:${port}"`));
      expect((await validate(file)).out).toMatchObject({ ok: true, errors: [] });
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('the aggregator command refuses a bad TLS set as serve does: exit 1, the field and the code, before listening', async () => {
    const file = f('aggregator.yaml', `replica_id: agg
listen: { admin: "127.0.0.1:0" }
aggregator: { address: "127.0.0.1:0", log_file: ${join(fdir, 'agg', 'rewards.jsonl')} }
gossip: { listen: "127.0.0.1:0", peers: [], secret_file: ${good.gossip} }
tls: { cert: ${leaf.cert}, key: ${other.key}, ca: ${ca.cert} }
routes: [{ name: chat, arms: [{ name: a, cluster: a }] }]
`);
    const io = captureIo({});
    expect(await main(['aggregator', '--config', file], io)).toBe(1);
    expect(io.err.map((l) => l.trim()).filter((l) => l.startsWith('tls.key: '))).toEqual([expect.stringMatching(/does not match the certificate .*\[EB_CONFIG_INVALID\]$/)]);
    expect(existsSync(join(fdir, 'agg'))).toBe(false);
  });

  it('--skip-files checks the config alone; the aggregator checks only the files it reads', async () => {
    const file = configFile({ ...good, warm: join(fdir, 'absent.jsonl'), cert: join(fdir, 'absent.crt') });
    expect(await validate(file, '--skip-files')).toMatchObject({ code: 0, out: { ok: true } });
    const loaded = await loadConfigFile(file, { env: {} });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
    expect((await checkConfigFiles(loaded.value, 'aggregator')).map((i) => i.path)).toEqual(['tls.cert']);
    expect((await checkConfigFiles(loaded.value, 'serve')).map((i) => i.path)).toEqual(['tls.cert', 'routes[0].warm_start.from']);
  });
});
