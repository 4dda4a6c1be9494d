/**
 * ESLint rule `local/no-import-cycle`: reports an import whose target leads
 * back to the importing file, with the whole cycle in the message.
 *
 * Every relative import counts — `import type`, `export … from`, `import()`
 * and `import('…').T` types included. (eslint-plugin-import(-x)'s `no-cycle`
 * skips type-only imports by design; a type cycle still ties two modules'
 * designs together, and it is the kind this codebase had.) The importing file's
 * own imports come from its AST; the rest of the graph is read from disk with
 * TypeScript's `preProcessFile` and cached per file by mtime.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';

/** Absolute path → { mtimeMs, deps } (resolved relative imports). */
const cache = new Map();

function isFile(p) {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** `./x.js` → `./x.ts` (NodeNext style), `./x` → `./x.ts` or `./x/index.ts`; null for packages and unresolvable paths. */
export function resolveImport(from, spec) {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return null;
  const base = resolve(dirname(from), spec);
  const stem = base.replace(/\.(m|c)?js$/, '');
  const candidates = stem === base
    ? [`${base}.ts`, `${base}.tsx`, `${base}.mts`, base, resolve(base, 'index.ts')]
    : [`${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, `${stem}.cts`, base];
  return candidates.find(isFile) ?? null;
}

function depsOnDisk(file) {
  let mtimeMs;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    return [];
  }
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.deps;
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const deps = [...new Set(info.importedFiles.map((f) => resolveImport(file, f.fileName)).filter((d) => d !== null))];
  cache.set(file, { mtimeMs, deps });
  return deps;
}

/** Shortest import path from `start` to `target` ([start, …, target]), or null. */
function pathTo(start, target) {
  const parent = new Map([[start, null]]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const at = queue[i];
    if (at === target) {
      const path = [];
      for (let p = at; p !== null; p = parent.get(p)) path.unshift(p);
      return path;
    }
    for (const d of depsOnDisk(at)) {
      if (!parent.has(d)) {
        parent.set(d, at);
        queue.push(d);
      }
    }
  }
  return null;
}

export const noImportCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'disallow import cycles, type-only imports included' },
    schema: [],
    messages: { cycle: 'import cycle: {{cycle}}' },
  },
  create(context) {
    const file = context.physicalFilename;
    const cwd = context.cwd;
    const check = (node, spec) => {
      if (typeof spec !== 'string') return;
      const dep = resolveImport(file, spec);
      if (dep === null || dep === file) return;
      const back = pathTo(dep, file);
      if (back) context.report({ node, messageId: 'cycle', data: { cycle: [file, ...back].map((f) => relative(cwd, f)).join(' → ') } });
    };
    return {
      ImportDeclaration: (n) => check(n, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
      ExportAllDeclaration: (n) => check(n, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source.value),
      TSImportType: (n) => n.argument.type === 'TSLiteralType' && check(n, n.argument.literal.value),
    };
  },
};

export default { meta: { name: 'local' }, rules: { 'no-import-cycle': noImportCycle } };
