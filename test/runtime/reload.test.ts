/**
 * Config reload (src/runtime/reload.ts): a good file is applied and answers the
 * routes it serves and the sections whose change waits for a restart; a bad one, or one that changes what cannot change in
 * place, is a ConfigRejection (EB_CONFIG_INVALID) carrying every issue, nothing
 * is applied, and the outcome is counted and published either way.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { BanditEvent } from '../../src/notify/events.js';
import { reloadFromFile, type ReloadTarget } from '../../src/runtime/reload.js';
import { ManualClock } from '../../src/util/clock.js';
import { metricValue } from '../support/admin-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'eb-reload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = `replica_id: r1
routes:
  - name: chat
    arms:
      - { name: a, cluster: model_a }
      - { name: b, cluster: model_b }
  - name: plain
    arms:
      - { name: a, cluster: model_a }
`;

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function target() {
  const loaded = await loadConfigFile(file('start.yaml', GOOD), { env: {} });
  if (!loaded.ok) throw new Error(`fixture config invalid: ${JSON.stringify(loaded.error)}`);
  const applied: Config[] = [];
  const events: BanditEvent[] = [];
  const metrics = createMetrics();
  const t: ReloadTarget = {
    config: loaded.value,
    started: loaded.value,
    apply: async (c) => void applied.push(c),
    metrics,
    clock: new ManualClock(5_000),
    events: { publish: (e) => events.push(e) },
  };
  return { t, applied, events, metrics };
}

describe('reloadFromFile', () => {
  it('applies a good config and answers the routes it serves', async () => {
    const { t, applied, events, metrics } = await target();
    const r = await reloadFromFile(t, file('good.yaml', GOOD.replace('name: plain', 'name: other')), {});
    expect(r).toEqual({ ok: true, value: { routes: ['chat', 'other'], restart_needed: [] } });
    expect(applied.map((c) => c.routes.map((x) => x.name))).toEqual([['chat', 'other']]);
    expect(events).toEqual([{ kind: 'reload', scope: 'local', outcome: 'success', routes: ['chat', 'other'] }]);
    expect(await metricValue(metrics, 'envoy_bandit_config_reloads_total', { outcome: 'success' })).toBe(1);
  });

  it('names the sections a reload does not apply (they wait for a restart), against the config the process started with', async () => {
    const { t, applied } = await target();
    const changed = `${GOOD}log: { level: debug, decisions_file: /tmp/decisions.jsonl }\ngossip: { listen: 127.0.0.1:7946, peers: [127.0.0.1:7947] }\n`;
    const r = await reloadFromFile(t, file('sections.yaml', changed.replace('name: plain', 'name: other')), {});
    expect(r).toEqual({ ok: true, value: { routes: ['chat', 'other'], restart_needed: ['gossip', 'log'] } });
    expect(applied).toHaveLength(1);
    // A second reload still compares with the start: the running gossip and log are the old ones.
    const again = await reloadFromFile({ ...t, config: applied[0]! }, file('sections.yaml', changed), {});
    expect(again.ok && again.value.restart_needed).toEqual(['gossip', 'log']);
  });

  it('refuses a bad config with EB_CONFIG_INVALID and every issue, applying nothing', async () => {
    const { t, applied, events, metrics } = await target();
    const r = await reloadFromFile(t, file('bad.yaml', GOOD.replace('cluster: model_b', 'cluster: ""').replace('name: plain', 'name: chat')), {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('EB_CONFIG_INVALID');
    expect(r.error.issues.length).toBeGreaterThanOrEqual(2);
    expect(r.error.issues.map((i) => i.path)).toContain('routes[0].arms[1].cluster');
    expect(r.error.message).toBe(`config rejected (${r.error.issues.length} issues); the previous config keeps serving`);
    expect(applied).toEqual([]);
    expect(events).toMatchObject([{ kind: 'reload', outcome: 'failure', issues: r.error.issues.map((i) => `${i.path}: ${i.message}`) }]);
    expect(await metricValue(metrics, 'envoy_bandit_config_reloads_total', { outcome: 'failure' })).toBe(1);
  });

  it('refuses an unreadable file and a changed identity the same way, each naming its path', async () => {
    const { t, applied } = await target();
    const missing = join(dir, 'missing.yaml');
    const gone = await reloadFromFile(t, missing, {});
    expect(gone).toMatchObject({ ok: false, error: { code: 'EB_CONFIG_INVALID', issues: [{ path: missing, message: 'cannot read config: file not found' }] } });
    const renamed = await reloadFromFile(t, file('renamed.yaml', GOOD.replace('replica_id: r1', 'replica_id: r2')), {});
    expect(renamed).toMatchObject({ ok: false, error: { code: 'EB_CONFIG_INVALID', message: 'config rejected (1 issue); the previous config keeps serving', issues: [{ path: 'replica_id' }] } });
    expect(applied).toEqual([]);
  });
});
