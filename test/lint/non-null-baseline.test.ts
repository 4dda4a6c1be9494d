/**
 * `@typescript-eslint/no-non-null-assertion` is an error in src/. The files on
 * scripts/lint/non-null-baseline.json keep the assertions they had (numeric
 * kernels indexing typed arrays in bounds-checked loops, tools, code in flight
 * elsewhere); this test holds each to its count, so the baseline only shrinks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { lint } from '../support/eslint-cli.js';
import { REPO_ROOT } from '../support/source-files.js';

const RULE = '@typescript-eslint/no-non-null-assertion';
const baseline = (JSON.parse(readFileSync(join(REPO_ROOT, 'scripts/lint/non-null-baseline.json'), 'utf8')) as { files: Record<string, number> }).files;

describe('non-null assertions in src/', () => {
  it('are a lint error for every file not on the baseline, and off for those on it', async () => {
    const eslint = new ESLint({ cwd: REPO_ROOT });
    const severity = async (f: string) => ((await eslint.calculateConfigForFile(join(REPO_ROOT, f))) as { rules: Record<string, unknown[]> }).rules[RULE]?.[0];
    for (const f of ['src/engine/engine.ts', 'src/admin/http.ts', 'src/aggregator/server.ts']) expect(await severity(f), f).toBe(2);
    const first = Object.keys(baseline)[0]!;
    expect(await severity(first), first).toBe(0);
  });

  it('do not grow in the files on the baseline', { timeout: 120_000 }, async () => {
    const files = Object.keys(baseline);
    const { results } = await lint(files, { args: ['--rule', `${RULE}: error`] });
    const counts = Object.fromEntries(results.map((r) => [r.filePath.slice(REPO_ROOT.length).replace(/^[\\/]/, '').split('\\').join('/'), r.messages.filter((m) => m.ruleId === RULE).length]));
    const grown = files.filter((f) => (counts[f] ?? 0) > baseline[f]!).map((f) => `${f}: ${counts[f]} > ${baseline[f]}`);
    expect(grown).toEqual([]);
    const total = files.reduce((n, f) => n + (counts[f] ?? 0), 0);
    console.log(`[non-null baseline] ${files.length} files, ${total} assertions (baseline ${Object.values(baseline).reduce((a, b) => a + b, 0)})`);
  });
});
