#!/usr/bin/env node
// Idempotently provide the chart tools the tests use, built from the Go module
// proxy into .tools/bin (no npm deps):
//   helm            helm.sh/helm/v3/cmd/helm            (helm lint / helm template)
//   kubectl-validate sigs.k8s.io/kubectl-validate       (offline schema validation of the rendered manifests)
// and the prometheus-operator CRDs the chart renders (PodMonitor, ServiceMonitor,
// PrometheusRule) into .tools/crds, taken from the prometheus-operator Go module
// (`go mod download`), so kubectl-validate can check them offline too.
// With --bench (scripts/setup.mjs --bench, i.e. `npm run bench`) also:
//   vegeta          github.com/tsenart/vegeta/v12       (open-loop load at a fixed rate)
//   eb-go-peer      bench/go-peer (go.mod/go.sum here)   (the Go ext_proc peer the benchmark compares with)
// Skipped when .tools/bin/<tool> already reports the pinned version (eb-go-peer:
// when the sha256 of its sources matches the one recorded at build). Needs `go`
// (≥ 1.24) on PATH or GO=/path/to/go; the first build takes a few minutes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOOLS = [
  { name: 'helm', module: 'helm.sh/helm/v3/cmd/helm', version: 'v3.19.0' },
  { name: 'kubectl-validate', module: 'sigs.k8s.io/kubectl-validate', version: 'v0.0.4' },
];
export const BENCH_TOOLS = [{ name: 'vegeta', module: 'github.com/tsenart/vegeta/v12', version: 'v12.13.0' }];
export const GO_PEER = { name: 'eb-go-peer', dir: 'bench/go-peer', sources: ['main.go', 'go.mod', 'go.sum'] };

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, '.tools', 'bin');
const go = process.env.GO ?? 'go';

/** The module version Go recorded in the binary (`go version -m`): `go install` builds print no release version of their own. */
function installed(t) {
  const path = join(bin, t.name);
  if (!existsSync(path)) return false;
  const r = spawnSync(go, ['version', '-m', path], { encoding: 'utf8' });
  return r.status === 0 && new RegExp(`\\tmod\\t${t.module.split('/cmd/')[0].replace(/[.]/g, '\\.')}\\t${t.version.replace(/[.]/g, '\\.')}\\b`).test(r.stdout);
}

const bench = process.argv.includes('--bench');
let failed = false;
for (const t of bench ? [...TOOLS, ...BENCH_TOOLS] : TOOLS) {
  if (installed(t)) {
    console.log(`${t.name} ${t.version} at ${join(bin, t.name)}`);
    continue;
  }
  if (spawnSync(go, ['version'], { stdio: 'ignore' }).status !== 0) {
    console.error(`setup-go-tools: ${t.name} missing and no Go toolchain (install Go ≥ 1.24, or set GO=/path/to/go)`);
    failed = true;
    continue;
  }
  console.log(`setup-go-tools: building ${t.module}@${t.version} into .tools/bin (a few minutes, once)`);
  mkdirSync(bin, { recursive: true });
  const r = spawnSync(go, ['install', `${t.module}@${t.version}`], { stdio: 'inherit', env: { ...process.env, GOBIN: bin, GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0' } });
  if (r.status !== 0) {
    console.error(`setup-go-tools: go install ${t.module}@${t.version} failed`);
    failed = true;
  }
}
if (bench) {
  const src = join(root, GO_PEER.dir);
  const hash = createHash('sha256');
  for (const f of GO_PEER.sources) hash.update(readFileSync(join(src, f)));
  const want = hash.digest('hex');
  const out = join(bin, GO_PEER.name);
  const stamp = `${out}.sha256`;
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) {
    console.log(`${GO_PEER.name} (${GO_PEER.dir}) at ${out}`);
  } else {
    console.log(`setup-go-tools: building ${GO_PEER.dir} into .tools/bin/${GO_PEER.name} (about a minute, once)`);
    mkdirSync(bin, { recursive: true });
    const r = spawnSync(go, ['build', '-o', out, '.'], { cwd: src, stdio: 'inherit', env: { ...process.env, GOFLAGS: '-buildvcs=false -mod=readonly', CGO_ENABLED: '0' } });
    if (r.status !== 0) {
      console.error(`setup-go-tools: go build in ${GO_PEER.dir} failed`);
      failed = true;
    } else writeFileSync(stamp, `${want}\n`);
  }
}
export const CRD_MODULE = { module: 'github.com/prometheus-operator/prometheus-operator', version: 'v0.85.0', dir: 'example/prometheus-operator-crd' };
export const CRD_FILES = ['monitoring.coreos.com_podmonitors.yaml', 'monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml'];
const crds = join(root, '.tools', 'crds', CRD_MODULE.version);
if (CRD_FILES.every((f) => existsSync(join(crds, f)))) {
  console.log(`prometheus-operator ${CRD_MODULE.version} CRDs at ${crds}`);
} else {
  const r = spawnSync(go, ['mod', 'download', '-json', `${CRD_MODULE.module}@${CRD_MODULE.version}`], { encoding: 'utf8', cwd: root });
  const dir = r.status === 0 ? JSON.parse(r.stdout).Dir : undefined;
  if (!dir) {
    console.error(`setup-go-tools: go mod download ${CRD_MODULE.module}@${CRD_MODULE.version} failed: ${r.stderr}`);
    failed = true;
  } else {
    mkdirSync(crds, { recursive: true });
    for (const f of CRD_FILES) copyFileSync(join(dir, CRD_MODULE.dir, f), join(crds, f));
    console.log(`prometheus-operator ${CRD_MODULE.version} CRDs copied to ${crds}`);
  }
}
process.exit(failed ? 1 : 0);
