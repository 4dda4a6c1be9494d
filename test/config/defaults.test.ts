/**
 * One default per knob: each default is declared once (src/config/defaults.ts)
 * and the modules that have a default of their own use it, so a library user
 * and a config user get the same behaviour.
 */
import { describe, expect, it } from 'vitest';
import * as D from '../../src/config/defaults.js';
import { parseConfig } from '../../src/config/load.js';
import { EXT_PROC_SERVER_DEFAULTS } from '../../src/extproc/server.js';
import { sourceFiles } from '../support/source-files.js';

const MINIMAL = `
routes:
  - name: chat
    match: { path_prefix: /v1 }
    arms: [{ name: a, cluster: a }, { name: b, cluster: b }]
    default_arm: a
`;

describe('one default per knob', () => {
  it('no module outside config/defaults.ts declares a constant of the same name as a config default', () => {
    const names = Object.keys(D);
    const clashes: string[] = [];
    for (const f of sourceFiles('src')) {
      if (f.path === 'src/config/defaults.ts') continue;
      for (const name of names) if (new RegExp(`\\bconst ${name}\\b\\s*[:=]`).test(f.text)) clashes.push(`${f.path}: ${name}`);
    }
    expect(clashes).toEqual([]);
  });

  it("the ext_proc server's own defaults (transport, address) are config's", () => {
    const cfg = parseConfig(MINIMAL, { env: {} });
    if (!cfg.ok) throw new Error('the minimal config is valid');
    expect(EXT_PROC_SERVER_DEFAULTS.transport).toBe(cfg.value.listen.ext_proc_transport);
    expect(EXT_PROC_SERVER_DEFAULTS.address).toBe(cfg.value.listen.ext_proc);
  });

  it('commands return the EXIT_* constants, never literal exit numbers', () => {
    const literal = /\breturn \d+;|exitCode: \d+\b|\bresolve\(\d+\)|process\.exit\(\d+\)/;
    const found = sourceFiles('src/cli').flatMap((f) => f.text.split('\n').map((line, i) => ({ where: `${f.path}:${i + 1}`, line })).filter((l) => literal.test(l.line)));
    expect(found.map((l) => `${l.where}: ${l.line.trim()}`)).toEqual([]);
  });
});
