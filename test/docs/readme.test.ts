import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { parseConfig } from '../../src/config/load.js';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const reference = readFileSync(join(root, 'examples', 'reference.yaml'), 'utf8');

/** Key paths of a value: objects by key, arrays through their first element; `_ms` suffixes dropped (YAML says `slo: 800ms`). */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.length ? keyPaths(value[0], `${prefix}[]`) : [];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const p = `${prefix}.${k.replace(/_ms$/, '')}`;
    return [p, ...keyPaths(v, p)];
  });
}

describe('README', () => {
  it('opens with the demo command and the test command', () => {
    const head = readme.split('\n').slice(0, 8).join('\n');
    expect(head).toContain('npm run demo');
    expect(head).toContain('npm test');
  });

  it('embeds examples/reference.yaml verbatim as its configuration reference', () => {
    const m = /<!-- reference\.yaml:start -->\n```yaml\n([\s\S]*?)```\n<!-- reference\.yaml:end -->/.exec(readme);
    expect(m, 'reference block markers').not.toBeNull();
    expect(m![1]).toBe(reference);
  });

  it('the reference validates, and names every field of the normalized config', () => {
    const res = parseConfig(reference, { env: { HOSTNAME: 'host-1' }, hostname: 'host-1' });
    if (!res.ok) throw new Error(res.error.map((i) => `${i.path}: ${i.message}`).join('\n'));
    const documented = new Set(keyPaths(parse(reference)));
    const missing = keyPaths(res.value).filter((p) => !documented.has(p));
    expect(missing).toEqual([]);
  });

  it('lists every metric the sidecar registers', async () => {
    const metrics = createMetrics(new Registry());
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(15);
    const unlisted = names.filter((n) => !readme.includes(n));
    expect(unlisted).toEqual([]);
  });
});
