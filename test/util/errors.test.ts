/**
 * The error catalogue (src/util/errors.ts): every code is used in src/ and
 * documented in the README's error-code table, every code src/ uses is in
 * the catalogue, and codes are unique and of the stable form EB_UPPER_SNAKE.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/util/errors.js';
import { REPO_ROOT, sourceFiles } from '../support/source-files.js';

const catalogue = Object.entries(ErrorCodes);
const codes = catalogue.map(([, code]) => code);
const src = sourceFiles('src').filter((f) => f.path !== 'src/util/errors.ts');
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('\n## ', readme.indexOf('## Error codes') + 1));
const documented = [...section.matchAll(/^\| `(EB_[A-Z_]+)` \|/gm)].map((m) => m[1]!);

describe('the error catalogue', () => {
  it('codes are unique and EB_UPPER_SNAKE', () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^EB_[A-Z]+(_[A-Z]+)*$/);
  });

  it('every code is used somewhere in src/', () => {
    const unused = catalogue.filter(([key, code]) => !src.some((f) => f.text.includes(`ErrorCodes.${key}`) || f.text.includes(`'${code}'`))).map(([, code]) => code);
    expect(unused).toEqual([]);
  });

  it('every EB_ code written in src/ is in the catalogue', () => {
    const written = new Set(src.flatMap((f) => [...f.text.matchAll(/\bEB_[A-Z_]+\b/g)].map((m) => m[0])));
    expect([...written].filter((c) => !codes.includes(c as never))).toEqual([]);
  });

  it("the README's error-code table documents exactly the catalogue", () => {
    expect([...documented].sort()).toEqual([...codes].sort());
  });
});
