import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BanditError, ErrorCodes } from './errors.js';

/**
 * The package's proto/ directory, the include dir for proto-loader: found by
 * walking up from this file (src/util/ in the tree, dist/src/util/ once built)
 * to the first proto/ that holds `marker`.
 */
export function findProtoRoot(marker: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, marker))) return candidate;
    dir = resolve(dir, '..');
  }
  throw new BanditError(ErrorCodes.SETUP, `proto/${marker} not found above ${fileURLToPath(import.meta.url)}`);
}
