/** The project's TypeScript sources, read for structural tests (one place per default, the error catalogue). */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface SourceFile {
  /** Path from the repo root, with forward slashes (src/cli/main.ts). */
  path: string;
  text: string;
}

/** Every .ts file under `dir` (relative to the repo root), sorted by path. */
export function sourceFiles(dir = 'src'): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (abs: string) => {
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const p = join(abs, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push({ path: relative(REPO_ROOT, p).split('\\').join('/'), text: readFileSync(p, 'utf8') });
    }
  };
  walk(join(REPO_ROOT, dir));
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}
