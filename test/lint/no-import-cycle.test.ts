/**
 * The import-cycle lint rule (scripts/lint/no-import-cycle.mjs), run the way
 * `npm run lint` runs it — the ESLint CLI with the repository's own
 * eslint.config.js: two files that import each other fail the lint, type-only
 * imports included.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { lint } from '../support/eslint-cli.js';
import { REPO_ROOT } from '../support/source-files.js';

let dir: string;

function write(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'src', name), text);
}

/** Lints `files` (under the temp src/) with the repo config: exit code and the cycle messages. */
async function lintCycles(files: string[]): Promise<{ code: number; cycles: string[] }> {
  const r = await lint(files.map((f) => `src/${f}`), { cwd: dir, args: ['--config', join(REPO_ROOT, 'eslint.config.js')] });
  return { code: r.code, cycles: r.results.flatMap((x) => x.messages.filter((m) => m.ruleId === 'local/no-import-cycle').map((m) => m.message)) };
}

describe('the import-cycle lint rule', () => {
  let run: { code: number; cycles: string[] };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eb-cycle-'));
    mkdirSync(join(dir, 'src'));
    write({
      // two files that import each other
      'a.ts': "import { b } from './b.js';\nexport const a = (): number => b + 1;\n",
      'b.ts': "import { a } from './a.js';\nexport const b = 1;\nexport const c = a;\n",
      // a longer cycle of type-only imports and a type re-export
      'plan.ts': "import type { Route } from './route.js';\nexport interface Plan { route: Route }\n",
      'route.ts': "export type { Step } from './step.js';\nexport interface Route { name: string }\n",
      'step.ts': "import type { Plan } from './plan.js';\nexport interface Step { plan: Plan }\n",
      // a one-way dependency
      'low.ts': 'export const low = 1;\n',
      'high.ts': "import { low } from './low.js';\nexport const high = low + 1;\n",
    });
    // One ESLint process for all three cases (starting one costs seconds).
    run = await lintCycles(['a.ts', 'b.ts', 'plan.ts', 'route.ts', 'step.ts', 'low.ts', 'high.ts']);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is an error for TypeScript in src/, test/ and bench/', async () => {
    const eslint = new ESLint({ cwd: REPO_ROOT });
    for (const f of ['src/engine/pipeline.ts', 'test/engine/pipeline.test.ts', 'bench/run.ts']) {
      const config = (await eslint.calculateConfigForFile(join(REPO_ROOT, f))) as { rules: Record<string, unknown> };
      expect(config.rules['local/no-import-cycle'], f).toEqual([2]);
    }
  });

  it('fails the lint on two files that import each other, naming the cycle', () => {
    expect(run.code).toBe(1);
    expect(run.cycles.filter((m) => /src\/[ab]\.ts/.test(m))).toEqual(['import cycle: src/a.ts → src/b.ts → src/a.ts', 'import cycle: src/b.ts → src/a.ts → src/b.ts']);
  });

  it('counts type-only imports and re-exports, over any length of cycle', () => {
    const typed = run.cycles.filter((m) => /plan|route|step/.test(m));
    expect(typed).toHaveLength(3);
    expect(typed[0]).toBe('import cycle: src/plan.ts → src/route.ts → src/step.ts → src/plan.ts');
  });

  it('passes a one-way dependency', () => {
    expect(run.cycles.filter((m) => /low|high/.test(m))).toEqual([]);
    expect(run.cycles).toHaveLength(5);
  });
});
