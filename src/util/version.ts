/**
 * The version of envoy-bandit: `version` of the package.json this module
 * ships in (the source tree, dist/ or the image's /app), found by walking up
 * from this file. One source for `--version` and envoy_bandit_build_info.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'envoy-bandit';
/** src/util → repo root is 2 levels; dist/src/util is 3. */
const MAX_LEVELS = 4;

function findVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i <= MAX_LEVELS; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

export const VERSION: string = findVersion();
