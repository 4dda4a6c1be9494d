import { describe, expect, it } from 'vitest';
import * as D from '../../src/config/defaults.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config, ConfigIssue, PolicyConfig, RouteConfig } from '../../src/config/types.js';

const ARMS = `
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }`;

function parseOk(text: string, env: Record<string, string> = {}): Config {
  const r = parseConfig(text, { env, hostname: 'test-host' });
  if (!r.ok) throw new Error(`expected a valid config, got:\n${r.error.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  return r.value;
}

function parseBad(text: string, env: Record<string, string> = {}): ConfigIssue[] {
  const r = parseConfig(text, { env, hostname: 'test-host' });
  if (r.ok) throw new Error('expected issues, got a valid config');
  return r.error;
}

/** One route with the three arms and the given extra YAML under it (indented 4). */
function route(extra = ''): string {
  return `routes:\n  - name: chat${ARMS}\n${extra}`;
}

const firstRoute = (c: Config): RouteConfig => c.routes[0]!;
const policyOf = (yamlPolicy: string): PolicyConfig => firstRoute(parseOk(route(`    policy: ${yamlPolicy}\n`))).policy;

describe('defaults', () => {
  it('fills every default for a minimal config', () => {
    const c = parseOk(route());
    expect(c.replica_id).toBe('test-host');
    expect(c.listen).toEqual({ ext_proc: D.DEFAULT_EXTPROC_LISTEN, admin: D.DEFAULT_ADMIN_LISTEN, ext_proc_transport: D.DEFAULT_EXTPROC_TRANSPORT });
    expect(c.listen).toEqual({ ext_proc: '127.0.0.1:50051', admin: '127.0.0.1:9464', ext_proc_transport: 'http2' });
    expect(c.aggregator).toBeNull();
    expect(c.gossip).toBeNull();
    expect(c.state).toEqual({ snapshot_file: null, interval_ms: 10_000, slot_expiry_ms: 1_800_000 });
    expect(c.admin).toEqual({ token_file: null });
    expect(c.decision_ids).toEqual({ secret_file: null });
    expect(c.log).toEqual({ level: 'info', decisions_file: null, decisions_max_bytes: 100 * 1024 * 1024, decisions_keep: 3 });

    const r = firstRoute(c);
    expect(r.match).toEqual({ path_prefix: null, authority: null, header: null });
    expect(r.arms.map((a) => a.cost)).toEqual([0, 0, 0]);
    expect(r.default_arm).toBe('model-a');
    expect(r.allow_force_arm).toBe(false);
    expect(r.policy).toEqual({ type: 'thompson', model: 'beta', prior: { alpha: 1, beta: 1 }, min_share: 0.01, drift: { mode: 'none' } });
    expect(r.sticky).toEqual({ header: 'x-session-id', cookie: null, ttl_ms: 30 * 60_000, max_sessions: 100_000, pin_header: 'x-bandit-pin' });
    expect(c.outcomes).toEqual({ source: 'response_headers', max_pending: 100_000, pending_ttl_ms: 660_000 });
    expect(r.reward).toEqual({
      success: { statuses: ['2xx'], grpc_statuses: [0] },
      latency: null,
      header: null,
      weights: { success: 1, latency: 0.5, header: 1, cost: 0.1 },
      feedback: null,
    });
    expect(r.guardrails).toEqual({
      min_samples: 30,
      window_ms: 10_000,
      error_rate: { max: 0.2 },
      latency_p95: { max_ms: 2_000 },
      ewma: { alpha: 0.2, sigmas: 4 },
      count_client_errors: false,
      action: 'quarantine',
      cooldown_ms: 60_000,
    });
  });

  it('fills section defaults when a section is given partially', () => {
    const c = parseOk(`
listen: { admin: 127.0.0.1:9000 }
aggregator: {}
gossip: { peers: [127.0.0.1:7947] }
${route(`    sticky: { cookie: sid }
    reward: { latency: { slo: 800ms }, feedback: {}, weights: { cost: 0 } }
    guardrails: { error_rate: { max: 0.5 }, ewma: null }
`)}`);
    expect(c.listen).toEqual({ ext_proc: '127.0.0.1:50051', admin: '127.0.0.1:9000', ext_proc_transport: 'http2' });
    expect(c.aggregator).toEqual({ address: '127.0.0.1:50061', batch: 256, flush_ms: 100, buffer: 100_000, log_file: null, fsync: 'batch', log_max_bytes: 1024 * 1024 * 1024, log_keep: 10 });
    expect(c.gossip).toEqual({
      listen: '127.0.0.1:7946',
      peers: ['127.0.0.1:7947'],
      dns: null,
      interval_ms: 1_000,
      fanout: 2,
      secret_file: null,
      sync_timeout_ms: 5_000,
    });
    const r = firstRoute(c);
    expect(r.sticky).toEqual({ header: 'x-session-id', cookie: 'sid', ttl_ms: 1_800_000, max_sessions: 100_000, pin_header: 'x-bandit-pin' });
    expect(r.reward.latency).toEqual({ slo_ms: 800, measure: 'ttfb' });
    expect(r.reward.feedback).toEqual({ wait_ms: 30_000, default: null });
    expect(r.reward.weights).toEqual({ success: 1, latency: 0.5, header: 1, cost: 0 });
    expect(r.guardrails?.error_rate).toEqual({ max: 0.5 });
    expect(r.guardrails?.ewma).toBeNull();
    expect(r.guardrails?.latency_p95).toEqual({ max_ms: 2_000 });
  });

  it('disables optional sections given as null', () => {
    const r = firstRoute(parseOk(route('    sticky: null\n    guardrails: null\n    reward: { latency: null, feedback: null, header: null }\n    match: null\n')));
    expect(r.sticky).toBeNull();
    expect(r.guardrails).toBeNull();
    expect(r.reward.latency).toBeNull();
    expect(r.reward.feedback).toBeNull();
    expect(r.reward.header).toBeNull();
    expect(r.match).toEqual({ path_prefix: null, authority: null, header: null });
    const c = parseOk(`aggregator: null\ngossip: null\n${route()}`);
    expect(c.aggregator).toBeNull();
    expect(c.gossip).toBeNull();
  });

  it('keeps what is given: match, default_arm, costs, header names lower-cased', () => {
    const r = firstRoute(
      parseOk(`routes:
  - name: chat
    match: { path_prefix: /v1/chat, authority: api.example.com, header: { name: X-Tenant, value: gold } }
    arms:
      - { name: model-a, cluster: model_a, cost: 1.0 }
      - { name: model-b, cluster: model_b, cost: 0.4 }
    default_arm: model-b
    allow_force_arm: true
    sticky: { header: X-Session-Id }
    reward: { header: X-Reward, success: { statuses: [2xx, 404, "3XX"] } }
`),
    );
    expect(r.match).toEqual({ path_prefix: '/v1/chat', authority: 'api.example.com', header: { name: 'x-tenant', value: 'gold' } });
    expect(r.arms).toEqual([
      { name: 'model-a', cluster: 'model_a', cost: 1, rewrite: null },
      { name: 'model-b', cluster: 'model_b', cost: 0.4, rewrite: null },
    ]);
    expect(r.default_arm).toBe('model-b');
    expect(r.allow_force_arm).toBe(true);
    expect(r.sticky?.header).toBe('x-session-id');
    expect(r.reward.header).toBe('x-reward');
    expect(r.reward.success.statuses).toEqual(['2xx', '404', '3xx']);
  });

  it('accepts listen addresses in every form', () => {
    const c = parseOk(`listen: { ext_proc: "unix:/tmp/eb.sock", admin: "[::1]:0" }\n${route()}`);
    expect(c.listen).toEqual({ ext_proc: 'unix:/tmp/eb.sock', admin: '[::1]:0', ext_proc_transport: 'http2' });
    expect(parseOk(`listen: { ext_proc: localhost:65535 }\n${route()}`).listen.ext_proc).toBe('localhost:65535');
  });
});

describe('policy forms', () => {
  const NONE = { mode: 'none' };

  it('thompson beta and gaussian, with partial priors', () => {
    expect(policyOf('{ type: thompson, prior: { alpha: 2 } }')).toEqual({ type: 'thompson', model: 'beta', prior: { alpha: 2, beta: 1 }, min_share: 0.01, drift: NONE });
    expect(policyOf('{ type: thompson, model: gaussian }')).toEqual({
      type: 'thompson',
      model: 'gaussian',
      prior: { mu: 0.5, kappa: 1, alpha: 1, beta: 1 },
      min_share: 0.01,
      drift: NONE,
    });
    expect(policyOf('{ type: thompson, model: gaussian, prior: { mu: 0.2, kappa: 3 }, min_share: 0.02, drift: { mode: discount, gamma: 0.99 } }')).toEqual({
      type: 'thompson',
      model: 'gaussian',
      prior: { mu: 0.2, kappa: 3, alpha: 1, beta: 1 },
      min_share: 0.02,
      drift: { mode: 'discount', gamma: 0.99 },
    });
  });

  it('ucb1, epsilon_greedy, static, fixed', () => {
    expect(policyOf('{ type: ucb1 }')).toEqual({ type: 'ucb1', c: 1.414, min_share: 0.01, drift: NONE });
    expect(policyOf('{ type: ucb1, c: 2, drift: { mode: window } }')).toEqual({ type: 'ucb1', c: 2, min_share: 0.01, drift: { mode: 'window', size: 2000 } });
    expect(policyOf('{ type: epsilon_greedy }')).toEqual({ type: 'epsilon_greedy', epsilon: 0.1, decay: 0, min_share: 0.01, drift: NONE });
    expect(policyOf('{ type: epsilon_greedy, epsilon: 0.3, decay: 0.01, drift: { mode: discount } }')).toEqual({
      type: 'epsilon_greedy',
      epsilon: 0.3,
      decay: 0.01,
      min_share: 0.01,
      drift: { mode: 'discount', gamma: 0.999 },
    });
    // arms the weights leave out get 0; baselines have no exploration floor by default
    expect(policyOf('{ type: static, weights: { model-a: 0.9, model-b: 0.1 } }')).toEqual({
      type: 'static',
      weights: { 'model-a': 0.9, 'model-b': 0.1, 'model-c': 0 },
      min_share: 0,
      drift: NONE,
    });
    expect(policyOf('{ type: fixed, arm: model-c }')).toEqual({ type: 'fixed', arm: 'model-c', min_share: 0, drift: NONE });
    expect(policyOf('{ type: fixed, arm: model-c, min_share: 0.05 }').min_share).toBe(0.05);
  });

  it.each([
    ['discounted_thompson', { type: 'thompson', model: 'beta', prior: { alpha: 1, beta: 1 } }],
    ['discounted_ucb1', { type: 'ucb1', c: 1.414 }],
    ['discounted_epsilon_greedy', { type: 'epsilon_greedy', epsilon: 0.1, decay: 0 }],
  ])('alias %s normalizes to the base type with a discount drift', (alias, base) => {
    expect(policyOf(`{ type: ${alias} }`)).toEqual({ ...base, min_share: 0.01, drift: { mode: 'discount', gamma: 0.999 } });
    expect(policyOf(`{ type: ${alias}, gamma: 0.95 }`).drift).toEqual({ mode: 'discount', gamma: 0.95 });
  });

  it.each([
    ['sliding_thompson', { type: 'thompson', model: 'beta', prior: { alpha: 1, beta: 1 } }],
    ['sliding_ucb1', { type: 'ucb1', c: 1.414 }],
    ['sliding_epsilon_greedy', { type: 'epsilon_greedy', epsilon: 0.1, decay: 0 }],
  ])('alias %s normalizes to the base type with a window drift', (alias, base) => {
    expect(policyOf(`{ type: ${alias} }`)).toEqual({ ...base, min_share: 0.01, drift: { mode: 'window', size: 2000 } });
    expect(policyOf(`{ type: ${alias}, size: 500 }`).drift).toEqual({ mode: 'window', size: 500 });
  });

  it('alias parameters are the base type’s', () => {
    expect(policyOf('{ type: sliding_thompson, model: gaussian, prior: { mu: 0.7 }, size: 10 }')).toEqual({
      type: 'thompson',
      model: 'gaussian',
      prior: { mu: 0.7, kappa: 1, alpha: 1, beta: 1 },
      min_share: 0.01,
      drift: { mode: 'window', size: 10 },
    });
    expect(policyOf('{ type: discounted_ucb1, c: 3 }')).toEqual({ type: 'ucb1', c: 3, min_share: 0.01, drift: { mode: 'discount', gamma: 0.999 } });
  });

  it('alias forms take their drift flat, not as drift:', () => {
    const issues = parseBad(route('    policy: { type: discounted_ucb1, drift: { mode: window } }\n'));
    expect(issues).toContainEqual({ path: 'routes[0].policy.drift', message: 'unknown key' });
  });

  it('rejects parameters of another policy or model', () => {
    const issues = parseBad(route('    policy: { type: ucb1, epsilon: 0.2 }\n'));
    expect(issues.map((i) => i.path)).toEqual(['routes[0].policy.epsilon']);
    const beta = parseBad(route('    policy: { type: thompson, prior: { mu: 0.5 } }\n'));
    expect(beta.map((i) => i.path)).toEqual(['routes[0].policy.prior.mu']);
    expect(beta[0]!.message).toMatch(/gaussian/);
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['5m', 300_000],
    ['1h', 3_600_000],
  ])('%s → %d ms', (text, ms) => {
    expect(firstRoute(parseOk(route(`    sticky: { ttl: ${text} }\n`))).sticky?.ttl_ms).toBe(ms);
  });

  it('maps every duration key to its *_ms field', () => {
    const c = parseOk(`
aggregator: { flush: 250ms }
gossip: { interval: 2s, sync_timeout: 0s }
state: { interval: 1m }
${route(`    sticky: { ttl: 1h }
    reward: { latency: { slo: 800ms }, feedback: { wait: 45s } }
    guardrails: { window: 20s, cooldown: 2m, latency_p95: { max: 1500ms } }
`)}`);
    expect(c.aggregator?.flush_ms).toBe(250);
    expect(c.gossip?.interval_ms).toBe(2_000);
    expect(c.gossip?.sync_timeout_ms).toBe(0);
    expect(c.state.interval_ms).toBe(60_000);
    const r = firstRoute(c);
    expect(r.sticky?.ttl_ms).toBe(3_600_000);
    expect(r.reward.latency?.slo_ms).toBe(800);
    expect(r.reward.feedback?.wait_ms).toBe(45_000);
    expect(r.guardrails?.window_ms).toBe(20_000);
    expect(r.guardrails?.cooldown_ms).toBe(120_000);
    expect(r.guardrails?.latency_p95?.max_ms).toBe(1_500);
  });

  it.each(['30', '30 sec', '-1s', '1d', 's'])('rejects %j with the path', (text) => {
    const issues = parseBad(route(`    sticky: { ttl: "${text}" }\n`));
    expect(issues.map((i) => i.path)).toEqual(['routes[0].sticky.ttl']);
    expect(issues[0]!.message).toMatch(/duration/);
  });

  it('rejects a bare number and a zero where zero makes no sense', () => {
    expect(parseBad(route('    sticky: { ttl: 30 }\n'))[0]).toMatchObject({ path: 'routes[0].sticky.ttl', message: expect.stringMatching(/duration/) });
    expect(parseBad(route('    reward: { latency: { slo: 0ms } }\n'))[0]).toEqual({ path: 'routes[0].reward.latency.slo', message: 'must be greater than 0' });
  });
});

describe('environment expansion', () => {
  it('expands ${VAR} and ${VAR:-default} anywhere a value can stand', () => {
    const c = parseOk(
      `replica_id: \${POD}\nlisten: { ext_proc: "\${HOST:-127.0.0.1}:\${PORT}", admin: \${ADMIN:-127.0.0.1:9999} }\naggregator: { batch: \${BATCH} }\n${route()}`,
      { POD: 'pod-7', PORT: '6000', BATCH: '64' },
    );
    expect(c.replica_id).toBe('pod-7');
    expect(c.listen).toEqual({ ext_proc: '127.0.0.1:6000', admin: '127.0.0.1:9999', ext_proc_transport: 'http2' });
    expect(c.aggregator?.batch).toBe(64);
  });

  it('uses the default for a set but empty variable, and leaves comments alone', () => {
    const c = parseOk(`# replica_id: \${NOT_SET_ANYWHERE}\nreplica_id: \${EMPTY:-fallback} # \${ALSO_NOT_SET}\n${route()}`, { EMPTY: '' });
    expect(c.replica_id).toBe('fallback');
  });

  it('HOSTNAME falls back to the hostname when the environment lacks it', () => {
    expect(parseOk(`replica_id: \${HOSTNAME}\n${route()}`).replica_id).toBe('test-host');
    expect(parseOk(`replica_id: \${HOSTNAME}\n${route()}`, { HOSTNAME: 'pod-9' }).replica_id).toBe('pod-9');
  });

  it('$${ is a literal ${', () => {
    const c = parseOk(`${route('    match: { header: { name: x-tmpl, value: "$${literal}" } }\n')}`);
    expect(firstRoute(c).match.header).toEqual({ name: 'x-tmpl', value: '${literal}' });
  });

  it('reports an unset variable at its path, with its name and line, and not the resulting empty value', () => {
    const issues = parseBad(`listen:\n  admin: \${ADMIN_ADDR}\n${route()}`);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('listen.admin');
    expect(issues[0]!.message).toMatch(/ADMIN_ADDR/);
    expect(issues[0]!.message).toMatch(/line 2/);
  });

  it('reports every unset variable and the other issues too', () => {
    const issues = parseBad(`replica_id: \${A}\nlisten: { ext_proc: \${B} }\n${route('    sticky: { ttl: soon }\n')}`);
    expect(issues.map((i) => i.path).sort()).toEqual(['listen.ext_proc', 'replica_id', 'routes[0].sticky.ttl']);
  });
});

describe('ext_proc transport', () => {
  it('defaults to node:http2 and accepts grpc-js; anything else is an error at its path', () => {
    expect(parseOk(route()).listen.ext_proc_transport).toBe('http2');
    expect(parseOk(`listen: { ext_proc_transport: grpc-js }\n${route()}`).listen.ext_proc_transport).toBe('grpc-js');
    const issues = parseBad(`listen: { ext_proc_transport: grpc-go }\n${route()}`);
    expect(issues.map((i) => i.path)).toContain('listen.ext_proc_transport');
  });
});
