/**
 * Bad configs through the real CLI (`envoy-bandit validate --config FILE`),
 * in-process: each must exit 1 and name the exact path of the problem.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const ARMS = `    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
`;

/** A valid config with `extra` added under the (single) route and `top` added at the top level. */
const cfg = (extra = '', top = '') => `${top}routes:\n  - name: chat\n${ARMS}${extra}`;

interface BadCase {
  name: string;
  yaml: string | null; // null: the file does not exist
  path: string | ((file: string) => string);
  message?: RegExp;
  env?: Record<string, string>;
}

const CASES: BadCase[] = [
  {
    name: 'missing cluster',
    yaml: 'routes:\n  - name: chat\n    arms:\n      - { name: model-a, cluster: model_a }\n      - { name: model-b }\n',
    path: 'routes[0].arms[1].cluster',
    message: /required/,
  },
  { name: 'unknown key', yaml: 'routes:\n  - name: chat\n    arms:\n      - { name: model-a, cluster: model_a, weight: 2 }\n', path: 'routes[0].arms[0].weight', message: /unknown key/ },
  { name: 'unknown top-level key', yaml: cfg('', 'listn: { admin: 127.0.0.1:1 }\n'), path: 'listn', message: /unknown key/ },
  { name: 'bad duration', yaml: cfg('    guardrails: { cooldown: 60 seconds }\n'), path: 'routes[0].guardrails.cooldown', message: /duration/ },
  { name: 'sequential threshold below 1', yaml: cfg('    guardrails: { sequential: { threshold: 0.5 } }\n'), path: 'routes[0].guardrails.sequential.threshold', message: /log-likelihood ratio/ },
  { name: 'sequential shift of 0', yaml: cfg('    guardrails: { sequential: { shift: 0 } }\n'), path: 'routes[0].guardrails.sequential.shift', message: /rise in error rate/ },
  { name: 'sequential unknown key', yaml: cfg('    guardrails: { sequential: { h: 19 } }\n'), path: 'routes[0].guardrails.sequential.h', message: /unknown key/ },
  { name: 'default_arm not an arm', yaml: cfg('    default_arm: model-z\n'), path: 'routes[0].default_arm', message: /not an arm/ },
  {
    name: 'duplicate arm',
    yaml: 'routes:\n  - name: chat\n    arms:\n      - { name: model-a, cluster: model_a }\n      - { name: model-b, cluster: model_b }\n      - { name: model-a, cluster: model_c }\n',
    path: 'routes[0].arms[2].name',
    message: /duplicate arm name "model-a"/,
  },
  { name: 'duplicate route', yaml: `${cfg()}  - name: chat\n${ARMS}`, path: 'routes[1].name', message: /duplicate route name/ },
  {
    name: 'static weights naming an unknown arm',
    yaml: cfg('    policy: { type: static, weights: { model-a: 0.5, model-z: 0.5 } }\n'),
    path: 'routes[0].policy.weights.model-z',
    message: /not an arm/,
  },
  { name: 'static weights summing to 0', yaml: cfg('    policy: { type: static, weights: { model-a: 0 } }\n'), path: 'routes[0].policy.weights', message: /sum/ },
  { name: 'negative static weight', yaml: cfg('    policy: { type: static, weights: { model-a: 1, model-b: -1 } }\n'), path: 'routes[0].policy.weights.model-b' },
  { name: 'fixed arm not an arm', yaml: cfg('    policy: { type: fixed, arm: model-z }\n'), path: 'routes[0].policy.arm', message: /not an arm/ },
  { name: 'min_share too large for the arms', yaml: cfg('    policy: { type: thompson, min_share: 0.4 }\n'), path: 'routes[0].policy.min_share', message: /< 1/ },
  { name: 'bad policy type', yaml: cfg('    policy: { type: softmax }\n'), path: 'routes[0].policy.type', message: /softmax/ },
  { name: 'gamma out of range', yaml: cfg('    policy: { type: thompson, drift: { mode: discount, gamma: 1.5 } }\n'), path: 'routes[0].policy.drift.gamma' },
  { name: 'gamma 0 on an alias', yaml: cfg('    policy: { type: discounted_ucb1, gamma: 0 }\n'), path: 'routes[0].policy.gamma', message: /> 0/ },
  { name: 'window size 0', yaml: cfg('    policy: { type: ucb1, drift: { mode: window, size: 0 } }\n'), path: 'routes[0].policy.drift.size' },
  { name: 'epsilon out of range', yaml: cfg('    policy: { type: epsilon_greedy, epsilon: 1.2 }\n'), path: 'routes[0].policy.epsilon' },
  {
    name: 'bad status pattern',
    yaml: cfg('    reward: { success: { statuses: ["2xx", "2x0"] } }\n'),
    path: 'routes[0].reward.success.statuses[1]',
    message: /status pattern/,
  },
  { name: 'reward weights all zero', yaml: cfg('    reward: { weights: { success: 0, latency: 0, header: 0, cost: 0 } }\n'), path: 'routes[0].reward.weights' },
  { name: 'feedback default out of range', yaml: cfg('    reward: { feedback: { default: 2 } }\n'), path: 'routes[0].reward.feedback.default' },
  { name: 'bad header name', yaml: cfg('    sticky: { header: "x session" }\n'), path: 'routes[0].sticky.header', message: /header name/ },
  { name: 'bad cluster name', yaml: 'routes:\n  - name: chat\n    arms:\n      - { name: model-a, cluster: "model a" }\n', path: 'routes[0].arms[0].cluster' },
  { name: 'empty cluster name', yaml: 'routes:\n  - name: chat\n    arms:\n      - { name: model-a, cluster: "" }\n', path: 'routes[0].arms[0].cluster' },
  { name: 'no routes', yaml: 'routes: []\n', path: 'routes' },
  { name: 'unset env var', yaml: cfg('', 'replica_id: ${EB_TEST_SURELY_UNSET}\n'), path: 'replica_id', message: /EB_TEST_SURELY_UNSET.*line 1/ },
  { name: 'YAML syntax error', yaml: 'routes:\n  - name: chat\n    arms: [\n      { name: model-a, cluster: model_a }\n  bad: }\n', path: 'line 5, col 3', message: /YAML/ },
  {
    name: 'non-loopback gossip without secret',
    yaml: cfg('', 'gossip: { listen: 0.0.0.0:7946, peers: [10.0.0.2:7946] }\n'),
    path: 'gossip.secret_file',
    message: /0\.0\.0\.0:7946/,
  },
  { name: 'loopback gossip with a remote peer and no secret', yaml: cfg('', 'gossip: { peers: [10.0.0.2:7946] }\n'), path: 'gossip.secret_file', message: /10\.0\.0\.2/ },
  { name: 'bad gossip peer', yaml: cfg('', 'gossip: { peers: ["127.0.0.1"] }\n'), path: 'gossip.peers[0]' },
  { name: 'bad listen address (port)', yaml: cfg('', 'listen: { ext_proc: 127.0.0.1:70000 }\n'), path: 'listen.ext_proc', message: /host:port/ },
  { name: 'bad listen address (form)', yaml: cfg('', 'listen: { admin: "http://127.0.0.1:9464" }\n'), path: 'listen.admin' },
  { name: 'non-loopback admin without token', yaml: cfg('', 'listen: { admin: 0.0.0.0:9464 }\n'), path: 'admin.token_file', message: /not loopback/ },
  { name: 'non-loopback ext_proc (no authentication)', yaml: cfg('', 'listen: { ext_proc: 0.0.0.0:50051 }\n'), path: 'listen.ext_proc', message: /no authentication/ },
  { name: 'remote aggregator without the gossip secret', yaml: cfg('', 'aggregator: { address: "agg.example:50061" }\n'), path: 'gossip.secret_file', message: /authenticates the reward stream/ },
  { name: 'bad log level', yaml: cfg('', 'log: { level: verbose }\n'), path: 'log.level', message: /verbose/ },
  { name: 'aggregator buffer below batch', yaml: cfg('', 'aggregator: { batch: 512, buffer: 100 }\n'), path: 'aggregator.buffer' },
  { name: 'file not found', yaml: null, path: (file) => file, message: /not found/ },
];

let dir: string;
const files = new Map<string, string>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eb-bad-configs-'));
  for (const [i, c] of CASES.entries()) {
    const file = join(dir, `case-${i}.yaml`);
    if (c.yaml !== null) await writeFile(file, c.yaml);
    files.set(c.name, file);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function validate(file: string, env: Record<string, string> = {}) {
  const io = captureIo(env);
  const code = await main(['validate', '--config', file], io);
  return { code, out: io.out.join('\n'), err: io.err.join('\n'), errLines: io.err };
}

describe('validate rejects bad configs with the exact path', () => {
  it('has at least 15 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(15);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const file = files.get(c.name)!;
    const { code, out, errLines } = await validate(file, c.env);
    expect(code).toBe(1);
    expect(out).not.toMatch(/^ok:/);
    const path = typeof c.path === 'function' ? c.path(file) : c.path;
    const line = errLines.find((l) => l.trim().startsWith(`${path}: `));
    expect(line, `no issue at ${path} in:\n${errLines.join('\n')}`).toBeDefined();
    if (c.message) expect(line).toMatch(c.message);
  });
});

describe('every issue in a file is reported', () => {
  it('reports schema, relation and env issues of several routes at once', async () => {
    const file = join(dir, 'many.yaml');
    await writeFile(
      file,
      `replica_id: \${EB_TEST_UNSET_TOO}
listen: { admin: 0.0.0.0:9464 }
routes:
  - name: chat
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b }
    default_arm: nope
  - name: embed
    arms:
      - { name: e1, cluster: embed_1, cost: -1 }
    sticky: { ttl: forever }
    policy: { type: static, weights: { e2: 1 } }
`,
    );
    const { code, err } = await validate(file);
    expect(code).toBe(1);
    for (const path of [
      'replica_id',
      'admin.token_file',
      'routes[0].arms[1].cluster',
      'routes[0].default_arm',
      'routes[1].arms[0].cost',
      'routes[1].sticky.ttl',
      'routes[1].policy.weights.e2',
    ]) {
      expect(err).toContain(`${path}: `);
    }
    expect(err).toMatch(/: 7 issues/);
  });
});
