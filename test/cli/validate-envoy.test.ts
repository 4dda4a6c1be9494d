/**
 * `validate --envoy`: a sidecar config checked against the Envoy bootstrap it
 * runs with. Each broken variant of envoy/envoy.yaml (or of the OpenAI recipe)
 * gets the error that names what is wrong; legal-but-odd configs get warnings
 * and exit 0; --json and --version.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { captureIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { REPO_ROOT } from '../support/envoy.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eb-validate-envoy-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = captureIo();
  const code = await main(['validate', ...args], io);
  return { code, out: io.out, err: io.err };
}

const SIDECAR = `
routes:
  - name: chat
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
`;
/* eslint-disable @typescript-eslint/no-explicit-any -- editing an untyped YAML tree */
const hcmOf = (doc: any) => doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const extProcOf = (doc: any) => hcmOf(doc).http_filters[0].typed_config;
const routesOf = (doc: any) => hcmOf(doc).route_config.virtual_hosts[0].routes;
const steers = (r: any) => r.route?.cluster_header === 'x-bandit-cluster';
/** Keeps only the routes `keep` accepts. */
const keepRoutes = (doc: any, keep: (r: any) => boolean) => (hcmOf(doc).route_config.virtual_hosts[0].routes = routesOf(doc).filter(keep));

async function variant(name: string, edit: (doc: any) => void, base = 'envoy.yaml'): Promise<string> {
  const doc = parse(await readFile(join(REPO_ROOT, 'envoy', base), 'utf8'));
  edit(doc);
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, stringify(doc));
  return path;
}
async function sidecar(name: string, text: string): Promise<string> {
  const path = join(dir, `${name}.sidecar.yaml`);
  await writeFile(path, text);
  return path;
}

describe('validate --envoy', () => {
  it('the shipped pair passes', async () => {
    const r = await run(['--config', await sidecar('ok', SIDECAR), '--envoy', join(REPO_ROOT, 'envoy', 'envoy.yaml')]);
    expect(r.err).toEqual([]);
    expect(r.out).toEqual([`ok: 1 route (chat) against ${join(REPO_ROOT, 'envoy', 'envoy.yaml')}`]);
    expect(r.code).toBe(0);
  });

  const broken: [string, (doc: any) => void, RegExp][] = [
    ['an arm whose cluster is missing', (d) => (d.static_resources.clusters = d.static_resources.clusters.filter((c: any) => c.name !== 'model_b')),
      /^routes\[0\]\.arms\[1\]\.cluster: no cluster "model_b" in the Envoy config/],
    ['a catch-all route to another arm', (d) => (routesOf(d).at(-1).route.cluster = 'model_b'),
      /routes\[\d+\]\.route\.cluster: the fail-open route for \/ goes to "model_b", but route "chat"'s default arm "model-a" is cluster "model_a"/],
    ['no catch-all route', (d) => keepRoutes(d, steers), /no catch-all route for \/ without a decision/],
    ['ext_proc not fail-open', (d) => (extProcOf(d).failure_mode_allow = false), /typed_config\.failure_mode_allow: must be true/],
    ['the client header not stripped', (d) => (hcmOf(d).early_header_mutation_extensions = []), /early_header_mutation_extensions: a client-sent x-bandit-cluster is not removed before routing/],
    ['no steering route', (d) => keepRoutes(d, (r) => !steers(r)), /no route with cluster_header: x-bandit-cluster/],
    ['a steering route without the header match', (d) => delete routesOf(d)[0].match.headers, /the steering route must match only requests that carry x-bandit-cluster/],
    ['the sidecar cluster on HTTP/1', (d) => delete d.static_resources.clusters[0].typed_extension_protocol_options, /cluster "envoy_bandit" \(the sidecar\) must speak HTTP\/2/],
    ['no ext_proc filter', (d) => hcmOf(d).http_filters.splice(0, 1), /no HTTP connection manager with the envoy.filters.http.ext_proc filter/],
    ['ext_proc after the router', (d) => hcmOf(d).http_filters.reverse(), /the ext_proc filter comes after the router/],
  ];
  for (const [what, edit, re] of broken) {
    it(`error: ${what}`, async () => {
      const r = await run(['--config', await sidecar('plain', SIDECAR), '--envoy', await variant(what.replace(/\W+/g, '-'), edit)]);
      expect(r.code).toBe(1);
      expect(r.err[0]).toMatch(/^invalid config .* against .*: \d+ issues?$/);
      expect(r.err.slice(1).some((l) => re.test(l.trim().replace(/^envoy:static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\./, ''))), r.err.join('\n')).toBe(true);
    });
  }

  it('a body rewrite on a route Envoy does not buffer, and a host rewrite Envoy would drop', async () => {
    const r = await run(['--config', join(REPO_ROOT, 'examples', 'openai-compatible.yaml'), '--envoy', await variant('openai-no-buffer', (d) => {
      delete routesOf(d)[1].typed_per_filter_config;
      delete extProcOf(d).mutation_rules;
    }, 'openai-compatible.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/routes\[1\]\.typed_per_filter_config: route "chat" rewrites the body's model, but Envoy sends no buffered body on this route \(request_body_mode NONE\)/);
    const host = await run(['--config', join(REPO_ROOT, 'examples', 'kserve-hosts.yaml'), '--envoy', await variant('kserve-no-routing', (d) => delete extProcOf(d).mutation_rules, 'kserve-hosts.yaml')]);
    expect(host.code).toBe(1);
    expect(host.err.join('\n')).toMatch(/mutation_rules\.allow_all_routing: an arm sets rewrite\.host/);
  });

  it('warnings do not fail: an arm left at 0 by static weights, a body rewrite no arm uses, a catch-all route first', async () => {
    const cfg = await sidecar('odd', `
routes:
  - name: all
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
    policy: { type: static, weights: { model-a: 1 } }
    body_rewrite: {}
  - name: never
    match: { path_prefix: /x }
    arms: [{ name: model-a, cluster: model_a }]
`);
    const r = await run(['--config', cfg]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([
      'warning: routes[0].policy.weights.model-b: arm "model-b" gets no traffic: its static weight is 0 (or missing) and min_share is 0',
      'warning: routes[0].body_rewrite: no arm sets rewrite.model: the body is read for nothing (and Envoy buffers it)',
      'warning: routes[0].match: matches every request, so routes after it (never) never match',
    ]);
    expect(r.out).toEqual([`ok: 2 routes (all, never), 3 warnings`]);
  });

  it('outcomes that never arrive: the outcome source against the response phase and the gRPC access log', async () => {
    const accessLog = `outcomes: { source: access_log }\n${SIDECAR}`;
    const envoyYaml = join(REPO_ROOT, 'envoy', 'envoy.yaml');
    const accessLogYaml = join(REPO_ROOT, 'envoy', 'envoy-accesslog.yaml');
    // Each shipped Envoy file with the outcome source it is made for passes.
    expect((await run(['--config', await sidecar('al', accessLog), '--envoy', accessLogYaml])).code).toBe(0);
    // Two-phase sidecar, access-log Envoy: the response phase is skipped, so nothing would be learned.
    const skip = await run(['--config', await sidecar('plain', SIDECAR), '--envoy', accessLogYaml]);
    expect(skip.code).toBe(1);
    expect(skip.err.join('\n')).toMatch(/processing_mode\.response_header_mode: SKIP, but outcomes\.source is response_headers: the sidecar never sees a response/);
    // Access-log sidecar, two-phase Envoy: no access log reaches the sidecar.
    const none = await run(['--config', await sidecar('al', accessLog), '--envoy', envoyYaml]);
    expect(none.code).toBe(1);
    expect(none.err.join('\n')).toMatch(/typed_config\.access_log: outcomes\.source is access_log, but no gRPC access log \(envoy\.access_loggers\.http_grpc\) goes to the sidecar/);
    // An access log without the decision id (entries cannot be matched) or sent elsewhere.
    const noId = await run(['--config', await sidecar('al', accessLog), '--envoy', await variant('al-no-id', (d) => {
      const log = hcmOf(d).access_log[0].typed_config;
      log.additional_request_headers_to_log = [];
      log.common_config.grpc_service.envoy_grpc.cluster_name = 'model_a';
    }, 'envoy-accesslog.yaml')]);
    expect(noId.code).toBe(1);
    expect(noId.err.join('\n')).toMatch(/access_log\[0\]\.typed_config\.additional_request_headers_to_log: must include x-bandit-decision-id/);
    expect(noId.err.join('\n')).toMatch(/envoy_grpc\.cluster_name: "model_a": the access log must go to the sidecar's cluster "envoy_bandit"/);
    // Warnings: a reward header the log does not carry; a response phase sent for nothing.
    const odd = await run(['--config', await sidecar('al-reward', `${accessLog}    reward: { header: x-score }\n`), '--envoy', await variant('al-send', (d) => {
      extProcOf(d).processing_mode.response_header_mode = 'SEND';
    }, 'envoy-accesslog.yaml')]);
    expect(odd.code).toBe(0);
    expect(odd.err.join('\n')).toMatch(/^warning: routes\[0\]\.reward\.header: x-score is not in the access log's additional_response_headers_to_log/m);
    expect(odd.err.join('\n')).toMatch(/response_header_mode: SEND, but outcomes come from the access log/);
  });

  it('an Envoy file that is missing or not YAML is an error at --envoy, in words, with its code', async () => {
    const cfg = await sidecar('plain', SIDECAR);
    const missing = await run(['--config', cfg, '--envoy', join(dir, 'no-such-envoy.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.err.join("\n")).toContain(`--envoy: cannot read ${join(dir, 'no-such-envoy.yaml')}: file not found [EB_CONFIG_READ]`);
    const garbled = join(dir, 'garbled.yaml');
    await writeFile(garbled, 'static_resources: [unclosed\n');
    const bad = await run(['--config', cfg, '--envoy', garbled]);
    expect(bad.code).toBe(1);
    expect(bad.err.join("\n")).toMatch(/--envoy: .*garbled\.yaml is not YAML\/JSON: .* \[EB_CONFIG_INVALID\]/);
  });

  it('--json: one document with errors and warnings, each with its path', async () => {
    const r = await run(['--config', await sidecar('plain', SIDECAR), '--envoy', await variant('json-broken', (d) => (extProcOf(d).failure_mode_allow = false)), '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out.join('\n'));
    expect(doc).toMatchObject({ ok: false, routes: ['chat'], warnings: [] });
    expect(doc.errors).toEqual([{ path: expect.stringMatching(/^envoy:static_resources.*failure_mode_allow$/), message: expect.stringMatching(/must be true/) }]);
  });

  it('"did you mean" for a misspelt key; --version', async () => {
    const r = await run(['--config', await sidecar('typo', SIDECAR.replace('arms:', 'arms:').replace('  - name: chat', '  - name: chat\n    polcy: { type: thompson }\n    stiky: null'))]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('  routes[0].polcy: unknown key (did you mean "policy"?)');
    expect(r.err).toContain('  routes[0].stiky: unknown key (did you mean "sticky"?)');
    const v = await run(['--version']);
    expect(v.code).toBe(0);
    expect(v.out[0]).toMatch(/^envoy-bandit \d+\.\d+\.\d+/);
  });
});
