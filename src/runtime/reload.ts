import { ConfigRejection } from '../config/issues.js';
import type { Config, ConfigIssue } from '../config/types.js';
import { loadConfigFile } from '../config/load.js';
import type { Metrics } from '../metrics/metrics.js';
import type { EventSink } from '../notify/events.js';
import { loadRewrites, type RewriteTable } from '../rewrite/arm-rewrites.js';
import type { Clock } from '../util/clock.js';
import { err, ok, type Result } from '../util/errors.js';

/** What a reload needs of the sidecar (sidecar.ts): the config in force, a way to apply a new one, where to report. */
export interface ReloadTarget {
  /** The config in force: listeners and identity are compared against it. */
  readonly config: Config;
  /** The config the process started with: every section but `routes` still runs as it says. */
  readonly started: Config;
  /** Applies a validated config with its rewrites (secrets already read). */
  apply(config: Config, rewrites: RewriteTable): Promise<void>;
  readonly metrics: Pick<Metrics, 'configReloads' | 'configLastReloadOk' | 'configLastReload'>;
  readonly clock: Clock;
  readonly events: EventSink;
}

/**
 * The routes now served and the top-level sections whose change waits for a
 * restart, or the rejection (EB_CONFIG_INVALID) with every issue; the previous
 * config keeps serving.
 */
export type ReloadResult = Result<{ routes: string[]; restart_needed: string[] }, ConfigRejection>;

function rejected(issues: readonly ConfigIssue[]): ReloadResult {
  const n = issues.length;
  return err(new ConfigRejection(issues, `config rejected (${n} issue${n === 1 ? '' : 's'}); the previous config keeps serving`));
}

/** Listener addresses and identity cannot change in place; a reload that tries is rejected. */
function immutableChanges(prev: Config, next: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (prev.replica_id !== next.replica_id) issues.push({ path: 'replica_id', message: 'cannot change on reload; restart the sidecar' });
  if (prev.listen.ext_proc !== next.listen.ext_proc) issues.push({ path: 'listen.ext_proc', message: 'cannot change on reload; restart the sidecar' });
  if (prev.listen.admin !== next.listen.admin) issues.push({ path: 'listen.admin', message: 'cannot change on reload; restart the sidecar' });
  return issues;
}

/**
 * A reload applies `routes` (arms, policies, rewrites, guardrails, …) in place.
 * The other sections are read once at start (listeners, gossip, the reward
 * stream, state, logs, secrets, notifications, outcomes); a change to one is
 * named, so nobody believes it is in force before a restart.
 */
function restartNeeded(started: Config, next: Config): string[] {
  return (Object.keys(next) as Array<keyof Config>).filter((k) => k !== 'routes' && JSON.stringify(started[k]) !== JSON.stringify(next[k])).sort();
}

/**
 * Re-reads the config file and applies it. A bad new config is rejected with
 * every issue and the old one keeps serving; learned state survives for
 * routes and arms that remain.
 */
export async function reloadFromFile(target: ReloadTarget, path: string, env: NodeJS.ProcessEnv): Promise<ReloadResult> {
  const result = await tryReload(target, path, env);
  const m = target.metrics;
  m.configReloads.inc({ outcome: result.ok ? 'success' : 'failure' });
  m.configLastReloadOk.set(result.ok ? 1 : 0);
  if (result.ok) m.configLastReload.set(target.clock.now() / 1000);
  target.events.publish(
    result.ok
      ? { kind: 'reload', scope: 'local', outcome: 'success', routes: result.value.routes }
      : { kind: 'reload', scope: 'local', outcome: 'failure', issues: result.error.issues.map((i) => `${i.path}: ${i.message}`) },
  );
  return result;
}

async function tryReload(target: ReloadTarget, path: string, env: NodeJS.ProcessEnv): Promise<ReloadResult> {
  const res = await loadConfigFile(path, { env });
  if (!res.ok) return rejected(res.error);
  const issues = immutableChanges(target.config, res.value);
  if (issues.length) return rejected(issues);
  const rewrites = await loadRewrites(res.value);
  if (!rewrites.ok) return rejected(rewrites.error);
  await target.apply(res.value, rewrites.value);
  return ok({ routes: res.value.routes.map((r) => r.name), restart_needed: restartNeeded(target.started, res.value) });
}
