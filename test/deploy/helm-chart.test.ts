/**
 * deploy/helm/envoy-bandit: `helm lint` and `helm template` over the default,
 * multi-route and external-aggregator values; every rendered object validated
 * offline by kubectl-validate against Kubernetes 1.30's schemas and the
 * prometheus-operator CRDs (PodMonitor, ServiceMonitor, PrometheusRule; from
 * the Go module, see scripts/setup-go-tools.mjs); the rendered sidecar configs
 * pass the project's validator and the rendered Envoy config passes
 * `envoy --mode validate`; a bad value is rejected by values.schema.json with
 * its path; and the chart agrees with deploy/k8s and deploy/prometheus.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { checkEnvoyConfig } from '../../src/config/envoy-check.js';
import { formatIssues, parseConfig } from '../../src/config/load.js';
import { helmValuesSchema } from '../../src/tools/helm-schema/values-schema.js';
import { findEnvoyBinary } from '../../src/util/envoy-binary.js';
import { REPO_ROOT } from '../support/envoy.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- walking untyped manifests */
const CHART = join(REPO_ROOT, 'deploy', 'helm', 'envoy-bandit');
const HELM = join(REPO_ROOT, '.tools', 'bin', 'helm');
const VALIDATE = join(REPO_ROOT, '.tools', 'bin', 'kubectl-validate');
const CRDS = join(REPO_ROOT, '.tools', 'crds', 'v0.85.0');
const KUBE_VERSION = '1.30';
const VALUES = {
  default: [] as string[],
  'multi-route': ['-f', join(CHART, 'ci', 'multi-route-values.yaml')],
  'external-aggregator': ['-f', join(CHART, 'ci', 'external-aggregator-values.yaml')],
};
type Case = keyof typeof VALUES;

const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 32 << 20 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message} (run scripts/setup.mjs)`);
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
};
const template = (args: string[]) => run(HELM, ['template', 'eb', CHART, '--namespace', 'ml', '--kube-version', KUBE_VERSION, ...args]);

const tmp = mkdtempSync(join(tmpdir(), 'eb-helm-'));
const rendered = new Map<Case, any[]>();
const renderedText = new Map<Case, string>();

beforeAll(() => {
  for (const [name, args] of Object.entries(VALUES) as Array<[Case, string[]]>) {
    const r = template(args);
    if (r.status !== 0) throw new Error(`helm template (${name}) failed:\n${r.out}`);
    renderedText.set(name, r.stdout);
    rendered.set(name, parseAllDocuments(r.stdout).map((d) => d.toJS()).filter((o) => o && typeof o === 'object'));
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const objects = (c: Case) => rendered.get(c)!;
const find = (c: Case, kind: string, suffix = '') => objects(c).find((o) => o.kind === kind && (suffix === '' || o.metadata.name.endsWith(suffix)));
const kinds = (c: Case) => objects(c).map((o) => o.kind).sort();

describe('helm lint and helm template', () => {
  it.each(Object.keys(VALUES))('%s values: helm lint passes', (name) => {
    const r = run(HELM, ['lint', CHART, '--kube-version', KUBE_VERSION, ...VALUES[name as Case]]);
    expect(r.out, r.out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(r.status).toBe(0);
  });

  it.each(Object.keys(VALUES))(`%s values: kubectl-validate (Kubernetes ${KUBE_VERSION} schemas + prometheus-operator CRDs) accepts every object`, (name) => {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'rendered.yaml'), renderedText.get(name as Case)!);
    const r = run(VALIDATE, [dir, '--version', KUBE_VERSION, '--local-crds', CRDS]);
    // eslint-disable-next-line no-control-regex -- kubectl-validate colours its verdicts with ANSI escapes
    const out = r.out.replace(/\u001b\[[0-9;]*m/g, '');
    expect(out, out).not.toMatch(/ERROR|error|invalid/i);
    expect(r.status, out).toBe(0);
    expect(out).toContain('rendered.yaml...OK');
  });

  it('kubectl-validate would catch a bad field: the CRD schemas and core schemas are in use', () => {
    const dir = join(tmp, 'broken');
    mkdirSync(dir, { recursive: true });
    const text = renderedText.get('multi-route')!.replace('  podMetricsEndpoints:\n', '  podMetricsEndpointz: 3\n  podMetricsEndpoints:\n').replace(/terminationGracePeriodSeconds: 30/, 'terminationGracePeriodSeconds: thirty');
    writeFileSync(join(dir, 'rendered.yaml'), text);
    const r = run(VALIDATE, [dir, '--version', KUBE_VERSION, '--local-crds', CRDS]);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('spec.podMetricsEndpointz');
    expect(r.out).toContain('terminationGracePeriodSeconds');
  });

  it('renders the expected objects for each values file', () => {
    expect(kinds('default')).toEqual(
      ['ConfigMap', 'ConfigMap', 'Deployment', 'NetworkPolicy', 'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Secret', 'Service', 'Service', 'Service', 'ServiceAccount', 'StatefulSet'].sort(),
    );
    expect(kinds('multi-route')).toEqual(expect.arrayContaining(['HorizontalPodAutoscaler', 'PodMonitor', 'ServiceMonitor', 'PrometheusRule']));
    expect(find('multi-route', 'Deployment').spec.replicas).toBeUndefined(); // the HPA owns it
    const ext = kinds('external-aggregator');
    for (const k of ['StatefulSet', 'Secret', 'NetworkPolicy', 'ServiceAccount']) expect(ext, k).not.toContain(k);
  });
});

describe('the rendered configs', () => {
  const configOf = (c: Case, key: string) => find(c, 'ConfigMap', '-config').data[key] as string;

  it.each(Object.keys(VALUES))('%s values: router.yaml (and aggregator.yaml) pass the project validator', (name) => {
    for (const key of ['router.yaml', 'aggregator.yaml']) {
      const text = find(name as Case, 'ConfigMap', '-config').data[key] as string | undefined;
      if (key === 'aggregator.yaml' && name === 'external-aggregator') {
        expect(text).toBeUndefined();
        continue;
      }
      const res = parseConfig(text!, { env: { POD_NAME: 'eb-router-0' } });
      expect(res.ok ? [] : formatIssues(res.error), `${name} ${key}`).toEqual([]);
    }
  });

  it('secure by default: admin off loopback has the token; gossip and the reward stream have the secret; ext_proc on loopback', () => {
    const cfg = parse(configOf('default', 'router.yaml'));
    expect(cfg.listen).toEqual({ ext_proc: '127.0.0.1:50051', admin: '0.0.0.0:9464' });
    expect(cfg.admin.token_file).toBe('/etc/envoy-bandit/secrets/admin-token');
    expect(cfg.gossip.secret_file).toBe('/etc/envoy-bandit/secrets/gossip-secret');
    expect(cfg.aggregator.address).toBe('eb-envoy-bandit-aggregator:50061');
    const secret = find('default', 'Secret');
    expect(Object.keys(secret.data).sort()).toEqual(['admin-token', 'decision-id-secret', 'gossip-secret']);
    for (const v of Object.values(secret.data)) expect(Buffer.from(v as string, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(renderedText.get('default')).not.toMatch(/REPLACE-ME/);
  });

  it('external aggregator: routers stream to it and use the existing Secret', () => {
    const cfg = parse(configOf('external-aggregator', 'router.yaml'));
    expect(cfg.aggregator.address).toBe('bandit-aggregator.shared.svc.cluster.local:50061');
    const pod = find('external-aggregator', 'Deployment').spec.template.spec;
    expect(pod.volumes.find((v: any) => v.name === 'secrets').secret.secretName).toBe('envoy-bandit-fleet');
  });

  it('the rendered Envoy config passes envoy --mode validate (multi-route: a fail-open route per route)', () => {
    for (const c of ['default', 'multi-route'] as Case[]) {
      const file = join(tmp, `envoy-${c}.yaml`);
      writeFileSync(file, find(c, 'ConfigMap', '-envoy').data['envoy.yaml']);
      const r = run(findEnvoyBinary(), ['--mode', 'validate', '-c', file, '-l', 'error']);
      expect(r.status, r.out).toBe(0);
    }
    const routes = parse(find('multi-route', 'ConfigMap', '-envoy').data['envoy.yaml']).static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
    expect(routes.slice(1).map((r: any) => [r.match.prefix, r.route.cluster])).toEqual([
      ['/v1/chat', 'llama_70b'],
      ['/v1/embeddings', 'e5'],
      ['/', 'llama_70b'],
    ]);
  });

  it('the PrometheusRule carries deploy/prometheus/rules.yml (the chart’s copy is identical)', () => {
    const rules = readFileSync(join(REPO_ROOT, 'deploy', 'prometheus', 'rules.yml'), 'utf8');
    expect(readFileSync(join(CHART, 'files', 'rules.yml'), 'utf8')).toBe(rules);
    expect(find('multi-route', 'PrometheusRule').spec.groups).toEqual(parse(rules).groups);
  });
});

describe('values.schema.json', () => {
  it('is generated from the config schema (node dist/src/tools/helm-schema/write.js)', () => {
    expect(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'))).toEqual(helmValuesSchema());
  });

  it.each([
    ['an arm name with a space', 'config.routes[0].arms[0].name=bad name', '/config/routes/0/arms/0/name'],
    ['an unknown route key', 'config.routes[0].weight=3', '/config/routes/0'],
    ['a backend without a port', 'backends.model_a=model-a.inference', '/backends/model_a'],
    ['a fractional replica count', 'router.replicas=1.5', '/router/replicas'],
  ])('rejects %s with its path', (_what, set, path) => {
    const r = template(['--set', set]);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('values don');
    expect(r.out).toContain(path);
  });

  it('an arm whose cluster has no backend fails with the arm’s path', () => {
    const file = join(tmp, 'no-backend.yaml');
    writeFileSync(file, 'config:\n  routes:\n    - name: chat\n      arms:\n        - { name: model-a, cluster: model_a }\n        - { name: model-z, cluster: model_z }\n');
    const r = template(['-f', file]);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('config.routes[0].arms[1].cluster: "model_z" has no address in backends');
  });
});

describe('per-arm rewrites in the chart', () => {
  it('an arm with rewrite.host turns on allow_all_routing, and the pair passes validate --envoy; body_rewrite (not rendered) fails with its path', () => {
    const file = join(tmp, 'host.yaml');
    writeFileSync(file, 'config:\n  routes:\n    - name: chat\n      arms:\n        - { name: model-a, cluster: model_a, rewrite: { host: a.models.example.com } }\n        - { name: model-b, cluster: model_b }\n');
    const r = template(['-f', file]);
    expect(r.status, r.out).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS()).filter((o) => o && typeof o === 'object');
    const envoy = docs.find((o: any) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-envoy')).data['envoy.yaml'];
    const router = docs.find((o: any) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-config')).data['router.yaml'];
    expect(parse(envoy).static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[1].typed_config.mutation_rules).toEqual({ allow_all_routing: true });
    expect(renderedText.get('default')).not.toContain('allow_all_routing');
    const cfg = parseConfig(router, { env: { POD_NAME: 'p' }, hostname: 'h' });
    if (!cfg.ok) throw new Error(formatIssues(cfg.error).join('\n'));
    expect(checkEnvoyConfig(cfg.value, parse(envoy)).errors).toEqual([]);
    const body = join(tmp, 'body.yaml');
    writeFileSync(body, 'config:\n  routes:\n    - name: chat\n      body_rewrite: {}\n      arms:\n        - { name: model-a, cluster: model_a, rewrite: { model: m } }\n        - { name: model-b, cluster: model_b }\n');
    const b = template(['-f', body]);
    expect(b.status).not.toBe(0);
    expect(b.out).toContain('config.routes[0].body_rewrite: this chart');
  });
});

describe('the chart and deploy/k8s agree', () => {
  it('same containers, ports, probes, mounts and Secret keys', () => {
    const k8s = ['router-deployment.yaml', 'aggregator-statefulset.yaml'].map((f) => parse(readFileSync(join(REPO_ROOT, 'deploy', 'k8s', f), 'utf8')));
    const chart = [find('default', 'Deployment'), find('default', 'StatefulSet')];
    const shape = (o: any) =>
      [...(o.spec.template.spec.initContainers ?? []), ...o.spec.template.spec.containers].map((c: any) => ({
        name: c.name,
        args: c.args,
        ports: c.ports,
        probes: [c.startupProbe, c.readinessProbe, c.livenessProbe].map((p: any) => p?.httpGet),
        mounts: (c.volumeMounts ?? []).map((m: any) => m.mountPath),
        restartPolicy: c.restartPolicy,
      }));
    for (let i = 0; i < 2; i++) expect(shape(chart[i])).toEqual(shape(k8s[i]));
    const example = parse(readFileSync(join(REPO_ROOT, 'deploy', 'k8s', 'secret.example.yaml'), 'utf8'));
    expect(Object.keys(find('default', 'Secret').data).sort()).toEqual(Object.keys(example.stringData).sort());
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
