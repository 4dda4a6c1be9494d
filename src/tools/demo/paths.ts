import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (holds package.json, bin/, envoy/): this file is src/tools/demo/ or dist/src/tools/demo/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'envoy'))) return dir;
    dir = resolve(dir, '..');
  }
  return process.cwd();
}

export const binScript = (root: string) => join(root, 'bin', 'envoy-bandit.js');
export const envoyTemplate = (root: string) => join(root, 'envoy', 'envoy.yaml');
