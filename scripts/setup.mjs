#!/usr/bin/env node
// Set-up for tests, benchmarks and the demo: the locked npm dependencies
// (install-deps.mjs), Envoy 1.40 into .tools/ (see
// setup-envoy.mjs), helm and kubectl-validate into .tools/bin (setup-go-tools.mjs)
// and the Debian tools the suite uses (promtool, openssl; wrk and hey for benchmarks). Installs what is missing when running as root; otherwise
// says exactly what to install.
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// openssl: the mutual-TLS tests make their certificates with it.
const want = process.argv.includes('--bench') ? ['promtool', 'openssl', 'wrk', 'hey'] : ['promtool', 'openssl'];
const debPackage = { promtool: 'prometheus', openssl: 'openssl', wrk: 'wrk', hey: 'hey' };

const deps = spawnSync(process.execPath, [join(root, 'scripts/install-deps.mjs')], { stdio: 'inherit' });
if (deps.status !== 0) process.exit(deps.status ?? 1);

const envoy = spawnSync(process.execPath, [join(root, 'scripts/setup-envoy.mjs')], { stdio: 'inherit' });
if (envoy.status !== 0) process.exit(envoy.status ?? 1);

// helm and kubectl-validate for the chart tests (built from the Go module proxy, once);
// with --bench also vegeta and the Go ext_proc peer (bench/go-peer).
const goTools = spawnSync(process.execPath, [join(root, 'scripts/setup-go-tools.mjs'), ...(process.argv.includes('--bench') ? ['--bench'] : [])], { stdio: 'inherit' });
if (goTools.status !== 0) process.exit(goTools.status ?? 1);

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = want.filter((c) => !has(c));
if (missing.length === 0) process.exit(0);
const pkgs = [...new Set(missing.map((c) => debPackage[c]))];
if (process.getuid?.() !== 0) {
  console.error(`setup: missing ${missing.join(', ')}; install with: sudo apt-get install -y ${pkgs.join(' ')}`);
  process.exit(1);
}
console.log(`setup: installing ${pkgs.join(' ')} from Debian`);
try {
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
} catch {
  console.error(`setup: apt-get install ${pkgs.join(' ')} failed`);
  process.exit(1);
}
