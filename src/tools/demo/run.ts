/**
 * The demo, end to end: simulated backends, the aggregator, N sidecar
 * replicas (each behind its own Envoy, like N pods), sticky-session load,
 * a mid-run failure of the best arm; a bandit phase, then a static equal-split
 * baseline phase over the same backends and failure schedule; then the
 * summary, the timeline and the report. Every child process is tracked and
 * stopped on every way out.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resetBackends, startSimBackend, type SimBackend } from './backends.js';
import { replicaId, writeAggregatorConfig, writeReplicaConfig, writeSecrets, type DemoPorts, type DemoSecrets, type Phase } from './configs.js';
import { parseDuration } from '../../util/duration.js';
import { BANDIT_FRACTION, DEMO_ARMS, DEMO_DEFAULTS, DEMO_FAILURE, DEMO_REWARD, DEMO_START_TIMEOUT_MS, type ArmProfile } from './defaults.js';
import { ensureEnvoy, startDemoEnvoy, type DemoEnvoy } from './envoy.js';
import { findWrk, REQUEST_PATH, startNodeLoad, startWrk, type LoadKind, type LoadResult, type RunningLoad } from './load.js';
import { readReplica, waitReady, type ReplicaView } from './observe.js';
import { binScript, packageRoot } from './paths.js';
import { ProcessGroup, type TrackedProcess } from './procs.js';
import { reportHtml } from './report.js';
import { compare, phaseOutcome, summaryLines, type DemoSummary, type PhaseOutcome } from './summary.js';
import { LiveTable } from './table.js';
import { addServed, emptyTally, percentile, RewardCounters, timelineCsv, type ArmTally, type TimelineRow } from './timeline.js';
import { freePort } from '../../util/free-port.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME } from '../../util/exit-codes.js';

export interface DemoOptions {
  durationMs: number;
  rps: number;
  replicas: number;
  seed: number;
  out: string;
  load: 'auto' | LoadKind;
  json: boolean;
  /** Redraw the table in place. */
  tty: boolean;
  stdout(line: string): void;
  stderr(line: string): void;
  env: NodeJS.ProcessEnv;
}

const ROUTE = 'chat';
const FINAL_WINDOW_S = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Distinct free ports (a port freed and handed out twice would collide). */
async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

interface PhaseContext {
  phase: Phase;
  durationMs: number;
  admins: number[];
  envoys: DemoEnvoy[];
  backends: SimBackend[];
  arms: readonly ArmProfile[];
}

interface PhaseResult {
  outcome: PhaseOutcome;
  rows: TimelineRow[];
  failureAtMs: number | null;
  quarantine: { atMs: number; sinceEpoch: number; rules: string[] } | null;
  finalViews: Array<ReplicaView | null>;
  lastRows: TimelineRow[][];
}

export class Demo {
  private readonly group = new ProcessGroup();
  private readonly root = packageRoot();
  private aborted: string | null = null;
  private loads: RunningLoad[] = [];
  private readonly table: LiveTable;
  private readonly events: string[] = [];

  constructor(private readonly o: DemoOptions) {
    // With --json, stdout carries only the JSON; the live view goes to stderr.
    this.table = new LiveTable(o.json ? o.stderr : o.stdout, o.tty);
  }

  private say(line: string): void {
    this.table.note(line);
  }

  /** Ctrl-C / SIGTERM: stop the load now; the phase loop sees `aborted` and cleanup runs. */
  abort(reason: string): void {
    if (this.aborted) return;
    this.aborted = reason;
    for (const l of this.loads) l.stop();
  }

  async run(): Promise<{ code: number; summary: DemoSummary }> {
    const o = this.o;
    const out = resolve(o.out);
    const runDir = join(out, 'run');
    mkdirSync(join(runDir, 'logs'), { recursive: true });
    const startedAt = new Date();
    const banditMs = Math.round(o.durationMs * BANDIT_FRACTION);
    const staticMs = o.durationMs - banditMs;
    const wrk = o.load === 'node' ? null : findWrk(o.env);
    if (o.load === 'wrk' && !wrk) throw new Error('--load wrk: wrk not found on PATH or in /usr/bin');
    const loadKind: LoadKind = wrk ? 'wrk' : 'node';

    const onSignal = (sig: NodeJS.Signals) => {
      this.say(`${sig}: stopping the load and every child process…`);
      this.abort(sig);
    };
    const onExit = () => this.group.killAllNow();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', onExit);

    const backends: SimBackend[] = [];
    let bandit: PhaseResult | null = null;
    let baseline: PhaseResult | null = null;
    let error: string | null = null;
    const aggregatorRewards: Record<Phase, number | null> = { bandit: null, static: null };
    try {
      const envoyBin = ensureEnvoy(this.root, (l) => this.say(l), o.env);
      for (const [i, arm] of DEMO_ARMS.entries()) backends.push(await startSimBackend(arm, o.seed * 100 + i));
      const n = o.replicas;
      const p = await freePorts(n * 5 + 3);
      const ports: DemoPorts = {
        extProc: p.slice(0, n),
        admin: p.slice(n, 2 * n),
        gossip: p.slice(2 * n, 3 * n),
        aggregator: p[5 * n]!,
        aggregatorAdmin: p[5 * n + 1]!,
        aggregatorGossip: p[5 * n + 2]!,
      };
      const envoyPorts = { listener: p.slice(3 * n, 4 * n), admin: p.slice(4 * n, 5 * n) };
      const secrets = writeSecrets(runDir);
      this.say(`envoy-bandit demo: ${n} replicas, ${o.rps} rps, bandit ${banditMs / 1000}s + static baseline ${staticMs / 1000}s, load by ${loadKind}; output in ${out}`);

      let agg = await this.startAggregator('bandit', ports, secrets, runDir);
      let sidecars = await this.startSidecars('bandit', ports, secrets, runDir);
      const envoys: DemoEnvoy[] = [];
      for (let i = 0; i < n; i++) {
        envoys.push(
          await startDemoEnvoy(this.group, {
            binary: envoyBin,
            root: this.root,
            dir: runDir,
            index: i + 1,
            ports: { listener: envoyPorts.listener[i]!, admin: envoyPorts.admin[i]!, extProc: ports.extProc[i]!, clusters: Object.fromEntries(backends.map((b) => [b.arm.cluster, b.port])) },
            timeoutMs: DEMO_START_TIMEOUT_MS,
          }),
        );
      }
      this.say(`ready: aggregator pid ${agg.pid}, sidecars ${sidecars.map((s) => s.pid).join(', ')}, envoys ${envoys.map((e) => e.proc.pid).join(', ')}`);

      const ctx = (phase: Phase, durationMs: number): PhaseContext => ({ phase, durationMs, admins: ports.admin, envoys, backends, arms: DEMO_ARMS });
      bandit = await this.runPhase(ctx('bandit', banditMs), wrk, runDir);
      // SIGTERM drains: each sidecar flushes its rewards to the aggregator before it exits.
      await Promise.all(sidecars.map((s) => this.group.stop(s)));
      aggregatorRewards.bandit = await this.aggregatorRewards(ports.aggregatorAdmin);
      await this.group.stop(agg);
      if (!this.aborted) {
        resetBackends(backends);
        agg = await this.startAggregator('static', ports, secrets, runDir);
        sidecars = await this.startSidecars('static', ports, secrets, runDir);
        baseline = await this.runPhase(ctx('static', staticMs), wrk, runDir);
        await Promise.all(sidecars.map((s) => this.group.stop(s)));
        aggregatorRewards.static = await this.aggregatorRewards(ports.aggregatorAdmin);
      }
    } catch (e) {
      error = (e as Error).message;
    } finally {
      this.table.release();
      await this.group.stopAll();
      await Promise.all(backends.map((b) => b.stop()));
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', onExit);
    }
    if (this.aborted && !error) error = `interrupted by ${this.aborted}`;

    const processes = this.group.report();
    const summary = this.buildSummary({ startedAt, out, runDir, loadKind, banditMs, staticMs, bandit, baseline, error, processes, aggregatorRewards });
    const rows = [...(bandit?.rows ?? []), ...(baseline?.rows ?? [])];
    writeFileSync(join(out, 'timeline.csv'), timelineCsv(rows));
    writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    writeFileSync(join(out, 'report.html'), reportHtml(summary, rows));
    const print = o.json ? o.stderr : o.stdout;
    for (const l of summaryLines(summary)) print(l);
    if (o.json) o.stdout(JSON.stringify(summary, null, 2));
    const code = this.aborted ? EXIT_INTERRUPTED : error ? EXIT_RUNTIME : summary.orphans ? EXIT_RUNTIME : EXIT_OK;
    return { code, summary };
  }

  private spawnCli(role: string, args: string[], runDir: string): TrackedProcess {
    return this.group.spawn(role, process.execPath, [binScript(this.root), ...args], { logFile: join(runDir, 'logs', `${role}.log`), env: this.o.env });
  }

  private async startAggregator(phase: Phase, ports: DemoPorts, secrets: DemoSecrets, runDir: string): Promise<TrackedProcess> {
    const config = writeAggregatorConfig({ dir: runDir, arms: DEMO_ARMS, ports, secrets, replicas: this.o.replicas, phase });
    const agg = this.spawnCli(`aggregator-${phase}`, ['aggregator', '--config', config], runDir);
    await waitReady(ports.aggregatorAdmin, DEMO_START_TIMEOUT_MS, () => agg.done, agg.role);
    return agg;
  }

  private async startSidecars(phase: Phase, ports: DemoPorts, secrets: DemoSecrets, runDir: string): Promise<TrackedProcess[]> {
    const procs: TrackedProcess[] = [];
    for (let i = 0; i < this.o.replicas; i++) {
      const config = writeReplicaConfig({ dir: runDir, arms: DEMO_ARMS, phase, index: i, ports, secrets });
      procs.push(this.spawnCli(`sidecar-${replicaId(phase, i)}`, ['serve', '--config', config, '--seed', String(this.o.seed * 10 + i)], runDir));
    }
    await Promise.all(procs.map((p, i) => waitReady(ports.admin[i]!, DEMO_START_TIMEOUT_MS, () => p.done, p.role)));
    return procs;
  }

  private async aggregatorRewards(adminPort: number): Promise<number | null> {
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/v1/summary`, { signal: AbortSignal.timeout(1000) });
      const body = (await r.json()) as { rewards?: unknown };
      return typeof body.rewards === 'number' ? body.rewards : null;
    } catch {
      return null;
    }
  }

  private async readAll(admins: number[]): Promise<Array<ReplicaView | null>> {
    return Promise.all(admins.slice(0, this.o.replicas).map((port) => readReplica(port, ROUTE)));
  }

  private async runPhase(c: PhaseContext, wrk: string | null, runDir: string): Promise<PhaseResult> {
    const arms = c.arms.map((a) => a.name);
    const tallies: Record<string, ArmTally> = Object.fromEntries(arms.map((a) => [a, emptyTally()]));
    const rewards = new RewardCounters();
    const rows: TimelineRow[] = [];
    const lastRows: TimelineRow[][] = [];
    let prevRewards = rewards.totals(arms);
    const failing = c.backends.find((b) => b.arm.name === DEMO_FAILURE.arm);
    const failAfter = Math.round(c.durationMs * DEMO_FAILURE.atFraction);
    let failureAtMs: number | null = null;
    let failureEpoch = 0;
    let quarantine: PhaseResult['quarantine'] = null;
    const rpsEach = this.o.rps / this.o.replicas;

    for (const b of c.backends) b.drain();
    const t0 = Date.now();
    this.loads = c.envoys.map((e, i) => {
      const target = { url: `http://127.0.0.1:${e.port}${REQUEST_PATH}`, rps: rpsEach, prefix: `${c.phase}-r${i + 1}`, seed: this.o.seed * 1000 + i + (c.phase === 'static' ? 500 : 0) };
      const opts = { durationMs: c.durationMs, sessions: DEMO_DEFAULTS.sessions, churn: DEMO_DEFAULTS.sessionChurn };
      return wrk ? startWrk(this.group, wrk, runDir, target, opts) : startNodeLoad(target, opts);
    });
    const loadsDone = Promise.allSettled(this.loads.map((l) => l.done));
    let finished = false;
    void loadsDone.then(() => (finished = true));

    let lastTick = t0;
    while (!finished && !this.aborted) {
      await Promise.race([sleep(DEMO_DEFAULTS.tickMs - ((Date.now() - t0) % DEMO_DEFAULTS.tickMs)), loadsDone]);
      const now = Date.now();
      if (failing && failureAtMs === null && now - t0 >= failAfter) {
        failing.errorRate = DEMO_FAILURE.errorRate;
        failing.latencyMs = DEMO_FAILURE.latencyMs;
        failureAtMs = now - t0;
        failureEpoch = now;
        this.events.push(`${c.phase} t=${(failureAtMs / 1000).toFixed(1)}s: ${DEMO_FAILURE.arm} starts failing`);
      }
      const views = await this.readAll(c.admins);
      rewards.update(views.map((v, i) => ({ key: String(i), view: v })));
      const totals = rewards.totals(arms);
      const served = Object.fromEntries(c.backends.map((b) => [b.arm.name, b.drain()]));
      const intervalTotal = Object.values(served).reduce((t, s) => t + s.length, 0);
      const tickRows: TimelineRow[] = [];
      for (const arm of arms) {
        const s = served[arm] ?? [];
        addServed(tallies[arm]!, s);
        const answering = views.filter((v): v is ReplicaView => v !== null).map((v) => v.arms.find((a) => a.name === arm)!).filter(Boolean);
        const states = answering.map((a) => a.state);
        const dSum = totals[arm]![0] - prevRewards[arm]![0];
        const dCount = totals[arm]![1] - prevRewards[arm]![1];
        tickRows.push({
          phase: c.phase,
          t_s: Math.round((now - t0) / 100) / 10,
          arm,
          requests: s.length,
          errors: s.filter((x) => x.status >= 500).length,
          traffic_share: intervalTotal ? s.length / intervalTotal : 0,
          policy_share: answering.length ? answering.reduce((t, a) => t + a.share, 0) / answering.length : 0,
          posterior_mean: answering.length ? answering.reduce((t, a) => t + a.mean, 0) / answering.length : 0,
          reward_mean: dCount > 0 ? dSum / dCount : null,
          rewards: Math.max(0, dCount),
          p95_ms: percentile(s.map((x) => x.latencyMs), 0.95),
          state: states.includes('quarantined') ? 'quarantined' : (states[0] ?? 'unknown'),
        });
        if (quarantine === null && failureAtMs !== null && arm === DEMO_FAILURE.arm) {
          const since = answering.map((a) => a.quarantinedSince).filter((x): x is number => x !== null && x >= failureEpoch);
          if (since.length) {
            const first = Math.min(...since);
            const rules = [...new Set(answering.flatMap((a) => a.quarantineRules))];
            quarantine = { atMs: first - t0, sinceEpoch: first, rules };
            this.events.push(`${c.phase} t=${((first - t0) / 1000).toFixed(1)}s: ${arm} quarantined (${rules.join(', ')}), ${((first - failureEpoch) / 1000).toFixed(1)}s after the failure`);
          }
        }
      }
      prevRewards = totals;
      rows.push(...tickRows);
      lastRows.push(tickRows);
      // The last, partial interval after the load ended is recorded but not drawn.
      if (!finished || now - lastTick >= DEMO_DEFAULTS.tickMs / 2) this.table.show({
        phase: c.phase,
        elapsedS: (now - t0) / 1000,
        totalS: c.durationMs / 1000,
        rps: (intervalTotal * 1000) / Math.max(1, now - lastTick),
        rows: tickRows,
        replicasAnswering: views.filter(Boolean).length,
        replicas: this.o.replicas,
        events: this.events,
      });
      lastTick = now;
    }
    const results = await loadsDone;
    const elapsed = Date.now() - t0;
    // Rewards for the last responses are applied at response time; one more read collects them.
    const finalViews = await this.readAll(c.admins);
    rewards.update(finalViews.map((v, i) => ({ key: String(i), view: v })));
    for (const b of c.backends) addServed(tallies[b.arm.name]!, b.drain());
    this.table.release();
    const client = mergeLoad(results.map((r) => (r.status === 'fulfilled' ? r.value : null)));
    const policy = c.phase === 'bandit' ? 'thompson + guardrails' : 'static equal split, no guardrails';
    const outcome = phaseOutcome({ policy, durationMs: Math.min(elapsed, c.durationMs) || 1, arms: c.arms, tallies, rewards: rewards.totals(arms), client, failureAtS: failureAtMs === null ? null : failureAtMs / 1000 });
    return { outcome, rows, failureAtMs, quarantine, finalViews, lastRows };
  }

  private buildSummary(x: {
    startedAt: Date;
    out: string;
    runDir: string;
    loadKind: LoadKind;
    banditMs: number;
    staticMs: number;
    bandit: PhaseResult | null;
    baseline: PhaseResult | null;
    error: string | null;
    processes: DemoSummary['processes'];
    aggregatorRewards: Record<Phase, number | null>;
  }): DemoSummary {
    const b = x.bandit;
    let best: DemoSummary['best_arm'] = null;
    let quarantine: DemoSummary['quarantine'] = null;
    if (b) {
      const views = b.finalViews.filter((v): v is ReplicaView => v !== null);
      const finalState: Record<string, string> = {};
      views.forEach((v) => (finalState[v.replica] = v.arms.find((a) => a.name === DEMO_FAILURE.arm)?.state ?? 'unknown'));
      if (b.quarantine && b.failureAtMs !== null) {
        quarantine = {
          arm: DEMO_FAILURE.arm,
          at_s: round1(b.quarantine.atMs / 1000),
          after_failure_s: round1((b.quarantine.atMs - b.failureAtMs) / 1000),
          rules: b.quarantine.rules,
          final_state: finalState,
        };
      }
      // The best arm once the failure has happened: highest expected reward among the arms that did not fail.
      const bestArm = DEMO_ARMS.filter((a) => a.name !== DEMO_FAILURE.arm).reduce((p, q) => (expectedReward(q) > expectedReward(p) ? q : p));
      const shareOf = (name: string) => (views.length ? views.reduce((t, v) => t + (v.arms.find((a) => a.name === name)?.share ?? 0), 0) / views.length : 0);
      const healthy = DEMO_ARMS.filter((a) => !views.some((v) => v.arms.find((y) => y.name === a.name)?.state === 'quarantined'));
      const healthyTotal = healthy.reduce((t, a) => t + shareOf(a.name), 0);
      const window = b.lastRows.slice(-FINAL_WINDOW_S).flat();
      const served = (name: string) => window.filter((r) => r.arm === name).reduce((t, r) => t + r.requests, 0);
      const allServed = window.reduce((t, r) => t + r.requests, 0);
      best = {
        name: bestArm.name,
        final_share: round4(shareOf(bestArm.name)),
        final_share_among_healthy: round4(healthyTotal > 0 ? shareOf(bestArm.name) / healthyTotal : 0),
        measured_share_last_5s: round4(allServed ? served(bestArm.name) / allServed : 0),
      };
    }
    const orphans = x.processes.filter((p) => !p.gone).length;
    return {
      version: 1,
      ok: x.error === null && orphans === 0,
      error: x.error,
      started_at: x.startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      settings: {
        duration_s: (x.banditMs + x.staticMs) / 1000,
        bandit_s: x.banditMs / 1000,
        static_s: x.staticMs / 1000,
        rps: this.o.rps,
        replicas: this.o.replicas,
        seed: this.o.seed,
        load_generator: x.loadKind,
        baseline: 'a second, live phase on the same backends and the same failure schedule (scaled to its length): static policy, equal weights, no guardrails; compare rates (per request), not totals',
      },
      arms: DEMO_ARMS.map((a) => ({ name: a.name, cluster: a.cluster, cost: a.cost, error_rate: a.errorRate, latency_ms: a.latencyMs, description: a.description })),
      failure: b?.failureAtMs != null ? { arm: DEMO_FAILURE.arm, at_s: round1(b.failureAtMs / 1000), error_rate: DEMO_FAILURE.errorRate, latency_ms: DEMO_FAILURE.latencyMs } : null,
      quarantine,
      best_arm: best,
      phases: { bandit: b?.outcome ?? null, static: x.baseline?.outcome ?? null },
      comparison: compare(b?.outcome ?? null, x.baseline?.outcome ?? null),
      aggregator: { rewards_logged: x.aggregatorRewards },
      processes: x.processes,
      orphans,
      files: { out: x.out, report: join(x.out, 'report.html'), timeline: join(x.out, 'timeline.csv'), summary: join(x.out, 'summary.json'), run_dir: x.runDir },
    };
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const round4 = (v: number) => Math.round(v * 10_000) / 10_000;

/** Expected reward of an arm's profile under the demo's reward weights (success 1, latency 0.5 under the SLO, cost 0.1). */
export function expectedReward(a: ArmProfile): number {
  const maxCost = Math.max(...DEMO_ARMS.map((x) => x.cost));
  const slo = parseDuration(DEMO_REWARD.slo)!;
  const latency = a.latencyMs <= slo ? 1 : Math.max(0, 2 - a.latencyMs / slo);
  return (1 - a.errorRate) * ((1 + 0.5 * latency + 0.1 * (1 - a.cost / maxCost)) / 1.6);
}

function mergeLoad(results: Array<LoadResult | null>): LoadResult {
  const ok = results.filter((r): r is LoadResult => r !== null);
  const requests = ok.reduce((t, r) => t + r.requests, 0);
  // Per-generator percentiles cannot be merged exactly; the request-weighted mean is close when the targets see alike traffic.
  const wavg = (k: 'p50Ms' | 'p95Ms' | 'p99Ms') => {
    const xs = ok.filter((r) => r[k] !== null);
    const n = xs.reduce((t, r) => t + r.requests, 0);
    return n ? xs.reduce((t, r) => t + r[k]! * r.requests, 0) / n : null;
  };
  return { requests, non2xx: ok.reduce((t, r) => t + r.non2xx, 0), socketErrors: ok.reduce((t, r) => t + r.socketErrors, 0), p50Ms: wavg('p50Ms'), p95Ms: wavg('p95Ms'), p99Ms: wavg('p99Ms') };
}
