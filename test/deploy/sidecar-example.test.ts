/** envoy/sidecar-example.yaml (the pod config of deploy/k8s) passes Envoy's own validation, and keeps the steering contract. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findEnvoyBinary } from '../../src/util/envoy-binary.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const FILE = join(ROOT, 'envoy', 'sidecar-example.yaml');

/* eslint-disable @typescript-eslint/no-explicit-any -- walking an untyped YAML tree */
describe('envoy/sidecar-example.yaml', () => {
  it('passes `envoy --mode validate`', () => {
    const r = spawnSync(findEnvoyBinary(), ['--mode', 'validate', '-c', FILE, '-l', 'warning', '--disable-hot-restart'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout + r.stderr).toContain('OK');
    expect(r.status).toBe(0);
  });

  it('sends ext_proc to the sidecar over loopback, fails open, and resolves the arms by DNS', () => {
    const doc: any = parse(readFileSync(FILE, 'utf8'));
    const ingress = doc.static_resources.listeners.find((l: any) => l.name === 'ingress');
    const hcm = ingress.filter_chains[0].filters[0].typed_config;
    const ext = hcm.http_filters.find((f: any) => f.name === 'envoy.filters.http.ext_proc').typed_config;
    expect(ext.failure_mode_allow).toBe(true);
    expect(ext.grpc_service.envoy_grpc.cluster_name).toBe('envoy_bandit');
    expect(ext.processing_mode).toMatchObject({ request_header_mode: 'SEND', response_header_mode: 'SEND', request_body_mode: 'NONE', response_body_mode: 'NONE' });
    const routes = hcm.route_config.virtual_hosts[0].routes;
    expect(routes[0].route.cluster_header).toBe('x-bandit-cluster');
    expect(routes.at(-1).match).toEqual({ prefix: '/' });
    expect(routes.at(-1).route.cluster).toBe('model_a');
    const clusters = new Map<string, any>(doc.static_resources.clusters.map((c: any) => [c.name, c]));
    const sidecar = clusters.get('envoy_bandit');
    expect(sidecar.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address).toBe('127.0.0.1');
    expect(sidecar.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config).toHaveProperty('http2_protocol_options');
    for (const name of ['model_a', 'model_b', 'model_c']) {
      expect(clusters.get(name).type).toBe('STRICT_DNS');
      expect(clusters.get(name).load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address).toMatch(/\.svc\.cluster\.local$/);
    }
    expect(doc.admin.address.socket_address.address).toBe('127.0.0.1');
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
