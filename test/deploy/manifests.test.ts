/**
 * deploy/ offline: every YAML parses, the Kubernetes objects hang together
 * (native sidecar, probes, headless gossip Service, Secret keys, PVC), the
 * bandit configs inside the ConfigMap pass the project's validator, and the
 * Grafana dashboard only queries metrics the sidecar exports.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { formatIssues, parseConfig } from '../../src/config/load.js';
import { RULES } from '../../src/guardrails/verdict.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- walking untyped manifests */
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const DEPLOY = join(ROOT, 'deploy');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

// Helm templates are not YAML until rendered (test/deploy/helm-chart.test.ts renders them).
const yamlFiles = walk(DEPLOY).filter((p) => /\.ya?ml$/.test(p) && !p.includes(`${join('helm', 'envoy-bandit', 'templates')}`));
const k8sObjects: any[] = yamlFiles
  .filter((p) => p.includes(`${join('deploy', 'k8s')}`) && !p.endsWith('kustomization.yaml'))
  .flatMap((p) => parseAllDocuments(readFileSync(p, 'utf8')).map((d) => d.toJS()))
  .filter((o) => o && typeof o === 'object');
const find = (kind: string, name: string) => k8sObjects.find((o) => o.kind === kind && o.metadata?.name === name);

describe('deploy/: every YAML file', () => {
  it('finds the manifests, the scrape config and the kustomization', () => {
    const rel = yamlFiles.map((p) => relative(DEPLOY, p)).sort();
    expect(rel).toEqual(expect.arrayContaining(['k8s/kustomization.yaml', 'k8s/router-deployment.yaml', 'prometheus/prometheus.yml']));
  });

  it.each(yamlFiles.map((p) => [relative(ROOT, p), p]))('%s parses (all documents)', (_rel, path) => {
    const docs = parseAllDocuments(readFileSync(path, 'utf8'), { uniqueKeys: true });
    expect(docs.length).toBeGreaterThan(0);
    for (const d of docs) expect(d.errors.map((e) => e.message)).toEqual([]);
  });

  it('the kustomization lists exactly the manifests in deploy/k8s, but not the example Secret', () => {
    const k = parse(readFileSync(join(DEPLOY, 'k8s', 'kustomization.yaml'), 'utf8'));
    const present = readdirSync(join(DEPLOY, 'k8s')).filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml' && !n.endsWith('.example.yaml'));
    expect([...k.resources].sort()).toEqual(present.sort());
  });

  it('applies no placeholder secret by default', () => {
    const k = parse(readFileSync(join(DEPLOY, 'k8s', 'kustomization.yaml'), 'utf8'));
    for (const r of k.resources as string[]) {
      const text = readFileSync(join(DEPLOY, 'k8s', r), 'utf8');
      expect(text, r).not.toMatch(/REPLACE-ME/);
      expect(parseAllDocuments(text).map((d) => d.toJS()?.kind), r).not.toContain('Secret');
    }
  });
});

describe('the Kubernetes objects', () => {
  const router = () => find('Deployment', 'envoy-bandit-router');
  it('run envoy-bandit as a native sidecar beside Envoy, with probes on /healthz and /readyz', () => {
    const pod = router().spec.template.spec;
    const sidecar = pod.initContainers.find((c: any) => c.name === 'envoy-bandit');
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.args.slice(0, 1)).toEqual(['serve']);
    expect(sidecar.livenessProbe.httpGet.path).toBe('/healthz');
    expect(sidecar.readinessProbe.httpGet.path).toBe('/readyz');
    expect(sidecar.startupProbe.httpGet.path).toBe('/readyz');
    const envoy = pod.containers.find((c: any) => c.name === 'envoy');
    expect(envoy.image).toMatch(/envoyproxy\/envoy:v1\.40\./);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
  });

  it('mount the ConfigMaps and the Secret at the paths the bandit configs name', () => {
    const cm = find('ConfigMap', 'envoy-bandit-config');
    const secret = find('Secret', 'envoy-bandit-secrets');
    const pod = router().spec.template.spec;
    const mounts = pod.initContainers[0].volumeMounts;
    const secretMount = mounts.find((m: any) => m.name === 'secrets').mountPath;
    const configMount = mounts.find((m: any) => m.name === 'config').mountPath;
    expect(pod.initContainers[0].args).toContain(`${configMount}/router.yaml`);
    const files = [...(cm.data['router.yaml'] as string).matchAll(/(?:secret_file|token_file): (\S+)/g)].map((m) => m[1]!);
    expect(files.length).toBe(3);
    for (const f of files) {
      expect(f.startsWith(`${secretMount}/`)).toBe(true);
      expect(Object.keys(secret.stringData)).toContain(f.slice(secretMount.length + 1));
    }
    expect(pod.volumes.find((v: any) => v.name === 'secrets').secret.secretName).toBe('envoy-bandit-secrets');
    expect(pod.volumes.find((v: any) => v.name === 'envoy-config').configMap.name).toBe('envoy-bandit-envoy');
  });

  it('carry envoy/sidecar-example.yaml verbatim in the Envoy ConfigMap', () => {
    const cm = find('ConfigMap', 'envoy-bandit-envoy');
    expect(parse(cm.data['envoy.yaml'])).toEqual(parse(readFileSync(join(ROOT, 'envoy', 'sidecar-example.yaml'), 'utf8')));
  });

  it('give gossip a headless Service over the router pods and the aggregator', () => {
    const svc = find('Service', 'envoy-bandit-gossip');
    expect(svc.spec.clusterIP).toBe('None');
    const sel = svc.spec.selector;
    const labels = (o: any) => o.spec.template.metadata.labels;
    const agg = find('StatefulSet', 'envoy-bandit-aggregator');
    for (const o of [router(), agg]) for (const [k, v] of Object.entries(sel)) expect(labels(o)[k]).toBe(v);
    const port = svc.spec.ports[0].port;
    expect(find('ConfigMap', 'envoy-bandit-config').data['router.yaml']).toContain(`dns: "envoy-bandit-gossip:${port}"`);
  });

  it('give the aggregator a PersistentVolumeClaim for its reward log', () => {
    const agg = find('StatefulSet', 'envoy-bandit-aggregator');
    const claim = agg.spec.volumeClaimTemplates[0];
    expect(claim.spec.accessModes).toContain('ReadWriteOnce');
    const mount = agg.spec.template.spec.containers[0].volumeMounts.find((m: any) => m.name === claim.metadata.name).mountPath;
    expect(find('ConfigMap', 'envoy-bandit-config').data['aggregator.yaml']).toContain(`log_file: ${mount}/`);
    expect(agg.spec.template.spec.containers[0].args[0]).toBe('aggregator');
  });
});

describe('the bandit configs in the ConfigMap', () => {
  const cm = () => find('ConfigMap', 'envoy-bandit-config');
  const env = { POD_NAME: 'envoy-bandit-router-7d9f-abcde', HOSTNAME: 'envoy-bandit-router-7d9f-abcde' };
  it.each(['router.yaml', 'aggregator.yaml'])('%s passes the project validator', (key) => {
    const r = parseConfig(cm().data[key], { env });
    expect(r.ok ? [] : formatIssues(r.error)).toEqual([]);
  });

  it('router.yaml expands the pod name into replica_id and needs the secrets it exposes', () => {
    const r = parseConfig(cm().data['router.yaml'], { env });
    if (!r.ok) throw new Error(formatIssues(r.error).join('\n'));
    expect(r.value.replica_id).toBe(env.POD_NAME);
    expect(r.value.gossip?.dns).toBe('envoy-bandit-gossip:7946');
    // Without the token the exposed admin listener is refused: the validator is really checking.
    const noToken = parseConfig(cm().data['router.yaml'].replace(/admin: \{ token_file: [^}]+\}/, 'admin: { token_file: null }'), { env });
    expect(noToken.ok).toBe(false);
  });
});

describe('deploy/grafana/envoy-bandit.json', () => {
  const text = readFileSync(join(DEPLOY, 'grafana', 'envoy-bandit.json'), 'utf8');
  const dash = JSON.parse(text);

  async function exportedSeries(): Promise<Set<string>> {
    const metrics = await createMetrics(new Registry()).registry.getMetricsAsJSON();
    const out = new Set<string>();
    for (const m of metrics) {
      const type = String(m.type);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(m.name + s);
      else if (type === 'summary') for (const s of ['_sum', '_count']) out.add(m.name + s);
      else out.add(m.name);
    }
    return out;
  }

  it('queries only metric series the sidecar exports', async () => {
    const exported = await exportedSeries();
    const used = new Set(text.match(/envoy_bandit_[a-z_]+/g) ?? []);
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
  });

  it('covers the contract’s operational views', () => {
    const used = new Set(text.match(/envoy_bandit_[a-z_]+/g) ?? []);
    for (const n of [
      'envoy_bandit_arm_traffic_share',
      'envoy_bandit_arm_posterior_mean',
      'envoy_bandit_decisions_total',
      'envoy_bandit_guardrail_trips_total',
      'envoy_bandit_upstream_latency_seconds_bucket',
      'envoy_bandit_feedback_total',
      'envoy_bandit_aggregator_buffer',
      'envoy_bandit_gossip_peers',
      'envoy_bandit_state_staleness_seconds',
      'envoy_bandit_responses_total',
      'envoy_bandit_guardrail_value',
      'envoy_bandit_guardrail_limit',
      'envoy_bandit_build_info',
      'envoy_bandit_config_reloads_total',
      'envoy_bandit_config_last_reload_success_timestamp_seconds',
    ]) {
      expect(used.has(n), n).toBe(true);
    }
    // Envoy's own fail-open counters (names as Envoy 1.40 exports them; see test/deploy/prometheus-rules.test.ts)
    expect(text).toContain('envoy_http_ext_proc_failure_mode_allowed');
    // namespace and pod variables, applied to every query
    expect(dash.templating.list.map((v: any) => v.name)).toEqual(expect.arrayContaining(['namespace', 'pod', 'route']));
    const all = dash.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr as string));
    for (const e of all) for (const sel of e.match(/envoy_[a-z_]+\{[^}]*\}/g) ?? [e]) expect(sel, e).toContain('namespace=~"$namespace",pod=~"$pod"');
    const exprs = dash.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr as string));
    expect(exprs.length).toBeGreaterThan(10);
    for (const e of exprs) expect(e.split('(').length).toBe(e.split(')').length);
  });

  it('filters guardrail readings only on rule names the guardrails emit, and shows every rule somewhere', () => {
    const filtered = [...text.matchAll(/rule=~\\"([^"\\]+)\\"/g)].flatMap((m) => m[1]!.split('|'));
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.filter((r) => !(RULES as readonly string[]).includes(r))).toEqual([]);
    expect([...RULES].filter((r) => !filtered.includes(r))).toEqual([]);
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  it('scrapes the admin port of every envoy-bandit pod', () => {
    const cfg = parse(readFileSync(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8'));
    const job = cfg.scrape_configs.find((j: any) => j.job_name === 'envoy-bandit');
    expect(job.kubernetes_sd_configs[0].role).toBe('pod');
    const keepPort = job.relabel_configs.find((r: any) => r.source_labels.includes('__meta_kubernetes_pod_container_port_name'));
    expect(keepPort).toMatchObject({ regex: 'admin', action: 'keep' });
    // the port name matches the containers'
    const ports = k8sObjects.flatMap((o) => [...(o.spec?.template?.spec?.initContainers ?? []), ...(o.spec?.template?.spec?.containers ?? [])]).flatMap((c: any) => c.ports ?? []);
    expect(ports.filter((p: any) => p.name === 'admin').map((p: any) => p.containerPort)).toEqual([9464, 9464]);
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
