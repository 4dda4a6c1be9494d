/**
 * After real traffic through Envoy (responses, failures, delayed feedback and
 * defaults), the sidecar's /metrics must pass `promtool check metrics`, and
 * every metric this issue owns must be there.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/admin-stack.js';

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
const DEFAULT_WAIT_POLL_MS = 100;
const DEFAULT_WAIT_MAX_MS = 8_000;

const yaml = (dir: string) => `replica_id: it-promtool
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
admin: { token_file: ${dir}/token }
decision_ids: { secret_file: ${dir}/key }
log: { level: info, decisions_file: ${dir}/decisions.jsonl }
routes:
  - name: rated
    match: { path_prefix: /rated }
    arms:
      - { name: a, cluster: model_a, cost: 1 }
      - { name: b, cluster: model_b, cost: 0.5 }
    default_arm: a
    policy: { type: thompson }
    reward:
      feedback: { wait: 1s, default: 0.1 }
  - name: chat
    match: { path_prefix: / }
    arms:
      - { name: a, cluster: model_a, cost: 1 }
      - { name: c, cluster: model_c, cost: 0.2 }
    default_arm: a
    policy: { type: ucb1 }
`;

describe('metrics after real traffic', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ yaml, backends: { model_a: { errorRate: 0.2 }, model_b: {}, model_c: { errorRate: 0.1 } } });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('pass promtool check metrics and carry every owned series', async () => {
    expect(existsSync(PROMTOOL), `promtool not found at ${PROMTOOL}: apt-get install prometheus (or set PROMTOOL)`).toBe(true);
    await s.traffic('/v1/chat', 60);
    const rated = await s.traffic('/rated/q', 30);
    const ok = rated.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThan(2);
    // Half the successful ones get feedback; the rest wait for their default.
    const items = ok.slice(0, Math.floor(ok.length / 2)).map((r) => ({ decision_id: r.headers['x-bandit-decision-id'], reward: 0.9 }));
    const fb = await s.admin('POST', '/v1/feedback', [...items, { decision_id: 'forged.xx', reward: 1 }, { decision_id: items[0]!.decision_id, reward: 1 }]);
    expect(fb.json.counts).toEqual({ accepted: items.length, duplicate: 1, expired: 0, invalid: 1, unavailable: 0 });
    await s.admin('POST', '/v1/routes/chat/arms/c/quarantine');
    await s.admin('POST', '/v1/routes/chat/arms/c/release');

    let text = '';
    const deadline = Date.now() + DEFAULT_WAIT_MAX_MS;
    while (Date.now() < deadline) {
      text = (await s.admin('GET', '/metrics', undefined, null)).json as string;
      if (/envoy_bandit_rewards_total\{[^}]*source="default"\}/.test(text)) break;
      await new Promise((r) => setTimeout(r, DEFAULT_WAIT_POLL_MS));
    }
    for (const needle of [
      /envoy_bandit_feedback_total\{outcome="accepted"\} \d+/,
      /envoy_bandit_feedback_total\{outcome="duplicate"\} 1/,
      /envoy_bandit_feedback_total\{outcome="invalid"\} 1/,
      /envoy_bandit_feedback_total\{outcome="defaulted"\} \d+/,
      /envoy_bandit_rewards_total\{route="rated",arm="[ab]",source="feedback"\} \d+/,
      /envoy_bandit_rewards_total\{route="rated",arm="[ab]",source="default"\} \d+/,
      /envoy_bandit_rewards_total\{route="rated",arm="[ab]",source="response"\} \d+/,
      /envoy_bandit_rewards_total\{route="chat",arm="[ac]",source="response"\} \d+/,
      /envoy_bandit_reward_sum\{route="rated",arm="[ab]",source="feedback"\} [\d.]+/,
      /envoy_bandit_reward_sum\{route="rated",arm="[ab]",source="default"\} [\d.]+/,
      /envoy_bandit_decisions_total\{route="chat",arm="[ac]",reason="policy"\} \d+/,
      /envoy_bandit_arm_traffic_share\{route="chat",arm="c"\} [\d.e-]+/,
      /envoy_bandit_arm_state\{route="chat",arm="c",state="active"\} 1/,
      /envoy_bandit_decision_log_lines_total\{outcome="written"\} \d+/,
      /envoy_bandit_responses_total\{route="chat",arm="[ac]",class="2xx"\} \d+/,
      /envoy_bandit_responses_total\{route="chat",arm="[ac]",class="5xx"\} \d+/,
      /envoy_bandit_guardrail_value\{route="chat",arm="[ac]",rule="error_rate"\} [\d.e-]+/,
      /envoy_bandit_guardrail_limit\{route="chat",arm="[ac]",rule="error_rate"\} 0\.2/,
      /envoy_bandit_guardrail_limit\{route="chat",arm="[ac]",rule="latency_p95"\} 2/,
      /envoy_bandit_build_info\{version="\d+\.\d+\.\d+",node="[\d.]+"\} 1/,
      /envoy_bandit_config_last_reload_success_timestamp_seconds \d+/,
    ]) {
      expect(text).toMatch(needle);
    }
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.error, String(check.error)).toBeUndefined();
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });
});
