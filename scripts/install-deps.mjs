#!/usr/bin/env node
// Installs the locked dependencies (`npm ci`) unless node_modules already
// matches package-lock.json. npm 11.19 refuses `npm ci` on lock files that
// lack other platforms' optional packages (rollup's android/darwin builds,
// pulled in by vitest): "Missing: @rollup/rollup-android-arm-eabi@ from lock
// file". npm 10 installs the same lock exactly, so on that error we run
// `npm ci` with npm 10 (fetched from the npm registry by npx).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');

const upToDate = existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs;
if (upToDate && !process.argv.includes('--force')) process.exit(0);

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (args) => spawnSync(args[0], args.slice(1), { cwd: root, encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });

console.log('install-deps: npm ci');
let res = run([npm, 'ci', '--no-audit', '--no-fund']);
if (res.status !== 0 && /EUSAGE|Missing: .* from lock file/.test(res.stderr ?? '')) {
  console.log('install-deps: this npm rejects the lock file (npm 11 optional-platform check); retrying with npm 10');
  res = run(['npx', '-y', 'npm@10', 'ci', '--no-audit', '--no-fund']);
}
if (res.status !== 0) {
  process.stderr.write(res.stderr ?? '');
  console.error('install-deps: npm ci failed');
  process.exit(res.status ?? 1);
}
