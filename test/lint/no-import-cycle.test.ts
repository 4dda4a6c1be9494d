/**
 * The import-cycle lint rule (scripts/lint/no-import-cycle.mjs) through
 * ESLint's Node API, with the repository's own eslint.config.js: two files
 * that import each other make `npm run lint` fail, type-only imports included.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
let dir: string;

function write(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'src', name), text);
}

async function cycleMessages(files: string[]): Promise<string[]> {
  const eslint = new ESLint({ cwd: dir, overrideConfigFile: join(root, 'eslint.config.js') });
  const results = await eslint.lintFiles(files.map((f) => join(dir, 'src', f)));
  return results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'local/no-import-cycle').map((m) => m.message));
}

describe('the import-cycle lint rule', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eb-cycle-'));
    mkdirSync(join(dir, 'src'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is on for every TypeScript file in the repository', async () => {
    const eslint = new ESLint({ cwd: root });
    for (const f of ['src/engine/pipeline.ts', 'test/engine/pipeline.test.ts', 'bench/run.ts']) {
      const config = (await eslint.calculateConfigForFile(join(root, f))) as { rules: Record<string, unknown> };
      expect(config.rules['local/no-import-cycle'], f).toEqual([2]);
    }
  });

  it('fails on two files that import each other, naming the cycle', async () => {
    write({
      'a.ts': "import { b } from './b.js';\nexport const a = (): number => b + 1;\n",
      'b.ts': "import { a } from './a.js';\nexport const b = 1;\nexport const c = a;\n",
    });
    const msgs = await cycleMessages(['a.ts', 'b.ts']);
    expect(msgs).toEqual(['import cycle: src/a.ts → src/b.ts → src/a.ts', 'import cycle: src/b.ts → src/a.ts → src/b.ts']);
  });

  it('counts type-only imports and re-exports, over any length of cycle', async () => {
    write({
      'plan.ts': "import type { Route } from './route.js';\nexport interface Plan { route: Route }\n",
      'route.ts': "export type { Step } from './step.js';\nexport interface Route { name: string }\n",
      'step.ts': "import type { Plan } from './plan.js';\nexport interface Step { plan: Plan }\n",
    });
    const msgs = await cycleMessages(['plan.ts', 'route.ts', 'step.ts']);
    expect(msgs).toHaveLength(3);
    expect(msgs[0]).toBe('import cycle: src/plan.ts → src/route.ts → src/step.ts → src/plan.ts');
  });

  it('passes a one-way dependency', async () => {
    write({
      'low.ts': 'export const low = 1;\n',
      'high.ts': "import { low } from './low.js';\nexport const high = low + 1;\n",
    });
    expect(await cycleMessages(['low.ts', 'high.ts'])).toEqual([]);
  });
});
