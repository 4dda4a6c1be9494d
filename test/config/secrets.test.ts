/**
 * Placeholder, short and weak secrets are refused: by the rule itself, and by
 * `serve` before anything listens, with EB_CONFIG_INVALID and the config path
 * that names the file.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { checkSecretFiles } from '../../src/config/secrets.js';
import { parseConfig } from '../../src/config/load.js';
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
    const issues = await checkSecretFiles(config(join(dir, 'placeholder'), join(dir, 'weak'), join(dir, 'missing')));
    expect(issues.map((i) => i.path)).toEqual(['admin.token_file', 'gossip.secret_file', 'decision_ids.secret_file']);
    expect(issues[0]!.message).toMatch(/placeholder/);
    expect(issues[1]!.message).toMatch(/too weak/);
    expect(issues[2]!.message).toMatch(/not found/);
    expect(await checkSecretFiles(config(join(dir, 'good'), join(dir, 'good'), join(dir, 'good')))).toEqual([]);
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
