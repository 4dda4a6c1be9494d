/**
 * deploy/prometheus: the alerting rules pass `promtool check rules` and their
 * unit tests (`promtool test rules`: a quarantine fires within its `for`, a
 * steady fleet fires nothing, …); every alert has a severity, a summary and a
 * runbook section; every metric they query exists — ours in the registry,
 * Envoy's in a real Envoy 1.40's /stats/prometheus; prometheus.yml passes
 * `promtool check config` (kubernetes_sd_configs swapped for static_configs:
 * Debian's promtool is built without Kubernetes discovery).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { DECISION_LOG_METRIC } from '../../src/log/decision-log.js';
import { REPO_ROOT, startEnvoy } from '../support/envoy.js';
import { freePort } from '../support/ports.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- walking untyped YAML */
const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
const DIR = join(REPO_ROOT, 'deploy', 'prometheus');
const rules = parse(readFileSync(join(DIR, 'rules.yml'), 'utf8'));
const alerts: any[] = rules.groups.flatMap((g: any) => g.rules);
const runbook = readFileSync(join(REPO_ROOT, 'docs', 'runbook.md'), 'utf8');

function promtool(args: string[], cwd = DIR) {
  const r = spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const tmp = mkdtempSync(join(tmpdir(), 'eb-prom-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('deploy/prometheus/rules.yml', () => {
  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', 'rules.yml']);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it('passes its unit tests (promtool test rules rules.test.yml)', () => {
    const r = promtool(['test', 'rules', 'rules.test.yml']);
    expect(r.out, r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('the unit tests would catch a quarantine alert that never fires', () => {
    // the same tests against a copy whose quarantine alert can never be true
    const broken = stringify({ ...rules, groups: rules.groups.map((g: any) => ({ ...g, rules: g.rules.map((a: any) => (a.alert === 'EnvoyBanditArmQuarantined' ? { ...a, expr: `${a.expr} and on() vector(0) > 1` } : a)) })) });
    writeFileSync(join(tmp, 'rules.yml'), broken);
    writeFileSync(join(tmp, 'rules.test.yml'), readFileSync(join(DIR, 'rules.test.yml')));
    const r = promtool(['test', 'rules', 'rules.test.yml'], tmp);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('EnvoyBanditArmQuarantined');
  });

  it('each alert: severity critical (page) or warning (ticket), a summary naming route/arm labels it keeps, a runbook section', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const a of alerts) {
      expect(['critical', 'warning'], a.alert).toContain(a.labels.severity);
      const anchor = /docs\/runbook\.md#([a-z0-9-]+)$/.exec(a.annotations.runbook_url)?.[1];
      // one section per alert, or per family (EnvoyBanditEnvoyFailingOpenHigh → #envoybanditenvoyfailingopen)
      expect(a.alert.toLowerCase().startsWith(anchor!), a.alert).toBe(true);
      const heading = a.alert.slice(0, anchor!.length);
      expect(runbook, a.alert).toContain(`\n## ${heading}\n`);
      const by = /by \(([^)]*)\)/.exec(a.expr)?.[1] ?? '';
      for (const label of ['route', 'arm']) if (by.split(/,\s*/).includes(label)) expect(a.annotations.summary, a.alert).toContain(`$labels.${label}`);
    }
    const severities = new Set(alerts.map((a) => a.labels.severity));
    expect([...severities].sort()).toEqual(['critical', 'warning']);
  });

  it('queries only metrics that exist: ours in the registry, Envoy’s in a real Envoy 1.40 scrape', async () => {
    const ours = new Set((await createMetrics(new Registry()).registry.getMetricsAsJSON()).map((m) => m.name));
    ours.add(DECISION_LOG_METRIC); // registered by the decision log when it is on
    // Envoy with its ext_proc server absent: one request fails open, so the filter's stats exist.
    const envoy = await startEnvoy({ extProc: { host: '127.0.0.1', port: await freePort() }, clusters: {} });
    let scrape = '';
    try {
      await fetch(`http://127.0.0.1:${envoy.port}/v1/chat`).then((r) => r.text()).catch(() => '');
      scrape = await (await fetch(`http://127.0.0.1:${envoy.adminPort}/stats/prometheus`)).text();
    } finally {
      await envoy.stop();
    }
    const envoyNames = new Set([...scrape.matchAll(/^(envoy_[a-z_]+)\{/gm)].map((m) => m[1]!));
    const used = new Set(alerts.flatMap((a) => [...String(a.expr).matchAll(/\b(envoy_[a-z_]+)\b/g)].map((m) => m[1]!)));
    const envoyUsed = [...used].filter((n) => n.startsWith('envoy_http_'));
    expect(envoyUsed.length).toBeGreaterThanOrEqual(2);
    expect(envoyUsed.filter((n) => !envoyNames.has(n))).toEqual([]);
    const counterBase = (n: string) => n.replace(/_total$/, '');
    expect([...used].filter((n) => n.startsWith('envoy_bandit_') && !ours.has(n) && !ours.has(counterBase(n)))).toEqual([]);
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  it('passes promtool check config (Kubernetes discovery swapped for static targets), rules included', () => {
    const cfg = parse(readFileSync(join(DIR, 'prometheus.yml'), 'utf8'));
    expect(cfg.rule_files).toEqual(['rules.yml']);
    for (const job of cfg.scrape_configs) {
      expect(job.kubernetes_sd_configs, job.job_name).toBeDefined();
      delete job.kubernetes_sd_configs;
      job.static_configs = [{ targets: ['127.0.0.1:9464'] }];
    }
    writeFileSync(join(tmp, 'prometheus.yml'), stringify(cfg));
    writeFileSync(join(tmp, 'rules.yml'), readFileSync(join(DIR, 'rules.yml')));
    const r = promtool(['check', 'config', 'prometheus.yml'], tmp);
    expect(r.out, r.out).toMatch(/SUCCESS: 1 rule files found/);
    expect(r.status).toBe(0);
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
