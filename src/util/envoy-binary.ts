import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BanditError, ErrorCodes } from './errors.js';

/** Package root: this file is src/util/ (or dist/src/util/ once built). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      accessSync(join(dir, 'package.json'));
      return dir;
    } catch {
      dir = resolve(dir, '..');
    }
  }
  return process.cwd();
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the Envoy binary is: `$ENVOY_BIN`, then `.tools/bin/envoy` (from
 * `node scripts/setup-envoy.mjs`), then `envoy` on PATH. Throws with the
 * remedy when none is found.
 */
export function findEnvoyBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ENVOY_BIN) return env.ENVOY_BIN;
  const tools = join(packageRoot(), '.tools', 'bin', 'envoy');
  if (isExecutable(tools)) return tools;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'envoy'))) return join(dir, 'envoy');
  }
  throw new BanditError(ErrorCodes.SETUP, 'envoy binary not found: run `node scripts/setup-envoy.mjs` or set ENVOY_BIN');
}
