/**
 * Every backend recipe in docs/backends.md: its Envoy config passes
 * `envoy --mode validate`, its sidecar config passes `validate`, and the two
 * pass `validate --envoy` together.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { findEnvoyBinary } from '../../src/util/envoy-binary.js';
import { REPO_ROOT } from '../support/envoy.js';

export const RECIPES = ['openai-compatible', 'grpc-inference', 'kserve-hosts'] as const;

describe.each(RECIPES)('recipe %s', (name) => {
  const envoy = join(REPO_ROOT, 'envoy', `${name}.yaml`);
  const sidecar = join(REPO_ROOT, 'examples', `${name}.yaml`);

  it('Envoy accepts its config (envoy --mode validate)', () => {
    const r = spawnSync(findEnvoyBinary(), ['--mode', 'validate', '-c', envoy, '-l', 'warning', '--disable-hot-restart'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout + r.stderr).toContain('OK');
    expect(r.status).toBe(0);
  });

  it('the sidecar config validates against it, without warnings', async () => {
    const io = captureIo();
    // --skip-files: the recipes name secrets mounted in the pod (/var/run/secrets/...), absent here.
    const code = await main(['validate', '--config', sidecar, '--envoy', envoy, '--skip-files'], io);
    expect(io.err).toEqual([]);
    expect(code).toBe(0);
  });

  it('docs/backends.md names both files', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'backends.md'), 'utf8');
    expect(doc).toContain(`envoy/${name}.yaml`);
    expect(doc).toContain(`examples/${name}.yaml`);
  });
});
