/**
 * `@typescript-eslint/no-non-null-assertion` is an error in src/. The files on
 * scripts/lint/non-null-baseline.json keep the assertions they had (numeric
 * kernels indexing typed arrays in bounds-checked loops, tools, code in flight
 * elsewhere); this test holds each to its count, so the baseline only shrinks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const RULE = '@typescript-eslint/no-non-null-assertion';
const baseline = JSON.parse(readFileSync(join(root, 'scripts/lint/non-null-baseline.json'), 'utf8')) as { files: Record<string, number> };

describe('non-null assertions in src/', () => {
  it('are a lint error for every file not on the baseline', async () => {
    const eslint = new ESLint({ cwd: root });
    for (const f of ['src/engine/engine.ts', 'src/admin/http.ts', 'src/aggregator/server.ts']) {
      const config = (await eslint.calculateConfigForFile(join(root, f))) as { rules: Record<string, unknown> };
      expect(config.rules[RULE], f).toEqual([2]);
    }
    const first = Object.keys(baseline.files)[0]!;
    const config = (await eslint.calculateConfigForFile(join(root, first))) as { rules: Record<string, unknown> };
    expect(config.rules[RULE], first).toEqual([0]);
  });

  it('do not grow in the files on the baseline', async () => {
    const eslint = new ESLint({ cwd: root, overrideConfig: { rules: { [RULE]: 'error' } } });
    const files = Object.keys(baseline.files);
    const results = await eslint.lintFiles(files.map((f) => join(root, f)));
    const counts = Object.fromEntries(results.map((r) => [r.filePath.slice(root.length + 1).split('\\').join('/'), r.messages.filter((m) => m.ruleId === RULE).length]));
    const grown = files.filter((f) => (counts[f] ?? 0) > baseline.files[f]!).map((f) => `${f}: ${counts[f]} > ${baseline.files[f]}`);
    expect(grown).toEqual([]);
    const total = files.reduce((n, f) => n + (counts[f] ?? 0), 0);
    console.log(`[non-null baseline] ${files.length} files, ${total} assertions (baseline ${Object.values(baseline.files).reduce((a, b) => a + b, 0)})`);
  });
});
