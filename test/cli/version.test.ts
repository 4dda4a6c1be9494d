/** `envoy-bandit --version` and envoy_bandit_build_info report package.json's version. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { captureIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

describe('version', () => {
  it('--version prints package.json version and the Node version, exit 0', async () => {
    const io = captureIo({});
    expect(await main(['--version'], io)).toBe(0);
    expect(io.out).toEqual([`envoy-bandit ${pkg.version} (node ${process.versions.node})`]);
  });

  it('envoy_bandit_build_info carries the same version', async () => {
    const text = await createMetrics(new Registry()).registry.metrics();
    expect(text).toContain(`envoy_bandit_build_info{version="${pkg.version}",node="${process.versions.node}"} 1`);
  });
});
