import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { parseConfig } from '../../src/config/load.js';
import { createAggregatorMetrics } from '../../src/aggregator/metrics.js';
import { decisionLogLinesCounter } from '../../src/log/decision-log.js';
import { metricRegistrations } from '../support/metric-registrations.js';
import { sourceFiles } from '../support/source-files.js';

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

/** The README text from `heading` to the next heading of the same or a higher level. */
function section(heading: string): string {
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no "${heading}"`);
  const level = heading.split(' ')[0]!;
  const rest = readme.slice(at + heading.length + 2);
  const next = rest.search(new RegExp(`\\n#{1,${level.length}} `));
  return next < 0 ? rest : rest.slice(0, next);
}

/** The folders of the architecture's folder table, in table order. */
function folderTable(): string[] {
  return [...section('## Architecture').matchAll(/^\| `(src\/[\w/-]+\/)` \|/gm)].map((m) => m[1]!);
}

describe('README', () => {
  it('opens with the demo command and the test command', () => {
    const head = readme.split('\n').slice(0, 8).join('\n');
    expect(head).toContain('npm run demo');
    expect(head).toContain('npm test');
  });

  it('the folder table names every folder of src/ (and of src/tools/), each once', () => {
    const dirs = (d: string) => readdirSync(join(root, d), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${d}/${e.name}/`);
    const expected = [...dirs('src').filter((d) => d !== 'src/tools/'), ...dirs('src/tools')].sort();
    expect([...folderTable()].sort()).toEqual(expected);
  });

  it('"Follow one request" names files that exist, and the folder table follows its order', () => {
    const walk = section('### Follow one request').split('| folder | one job |')[0]!;
    const paths = [...walk.matchAll(/`(src\/[\w./-]+)`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.filter((p) => !existsSync(join(root, p)))).toEqual([]);
    const firstSeen = [...new Set(paths.map((p) => /^src\/[\w-]+\//.exec(p)![0]))];
    const table = folderTable();
    // The walk's folders lead the table, in the order the walk reaches them.
    expect(table.slice(0, firstSeen.length)).toEqual(firstSeen);
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

  it('lists every metric registered anywhere in src/ (prom-client, fast-metrics, sum-count), each by its whole name', () => {
    const regs = sourceFiles('src').flatMap((f) => metricRegistrations(f.path, f.text));
    // Every place that creates metrics is found, not only the sidecar's registry.
    expect(new Set(regs.map((r) => r.file))).toEqual(new Set(['src/metrics/metrics.ts', 'src/aggregator/metrics.ts', 'src/log/decision-log.ts']));
    const series = regs.flatMap((r) => (r.kind === 'SumCount' ? [`${r.name}_sum`, `${r.name}_count`] : [r.name]));
    const unlisted = series.filter((n) => !new RegExp(`\\b${n}\\b`).test(readme));
    expect(unlisted).toEqual([]);
  });

  it('the source reading finds what the registries hold at run time', async () => {
    const registry = new Registry();
    createMetrics(registry);
    createAggregatorMetrics(registry);
    decisionLogLinesCounter(registry);
    const live = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('envoy_bandit_'));
    const read = sourceFiles('src').flatMap((f) => metricRegistrations(f.path, f.text).map((r) => r.name));
    expect(live.length).toBeGreaterThan(30);
    expect([...live].sort()).toEqual([...read].sort());
  });

  it('the source reading refuses a metric name it cannot resolve, naming the place', () => {
    expect(() => metricRegistrations('src/x.ts', "const n = f();\nnew Counter({ name: n, help: 'h' });")).toThrow(/src\/x\.ts:2: metric name n/);
    expect(metricRegistrations('src/y.ts', "const P = 'envoy_bandit_';\nnew FastCounter({ name: `${P}things_total`, help: 'h' });")).toEqual([
      { file: 'src/y.ts', kind: 'FastCounter', name: 'envoy_bandit_things_total' },
    ]);
  });
});
