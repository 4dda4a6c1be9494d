import type { Config, ConfigIssue } from '../config/types.js';
import { loadConfigFile } from '../config/load.js';
import type { Sidecar } from './sidecar.js';
import { loadRewrites } from '../rewrite/arm-rewrites.js';

export type ReloadResult = { ok: true; routes: string[] } | { ok: false; issues: ConfigIssue[] };

/** Listener addresses and identity cannot change in place; a reload that tries is rejected. */
function immutableChanges(prev: Config, next: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (prev.replica_id !== next.replica_id) issues.push({ path: 'replica_id', message: 'cannot change on reload; restart the sidecar' });
  if (prev.listen.ext_proc !== next.listen.ext_proc) issues.push({ path: 'listen.ext_proc', message: 'cannot change on reload; restart the sidecar' });
  if (prev.listen.admin !== next.listen.admin) issues.push({ path: 'listen.admin', message: 'cannot change on reload; restart the sidecar' });
  return issues;
}

/**
 * Re-reads the config file and applies it. A bad new config is rejected with
 * every issue and the old one keeps serving; learned state survives for
 * routes and arms that remain.
 */
export async function reloadFromFile(sidecar: Sidecar, path: string, env: NodeJS.ProcessEnv): Promise<ReloadResult> {
  const res = await loadConfigFile(path, { env });
  if (!res.ok) return { ok: false, issues: res.error };
  const issues = immutableChanges(sidecar.ctx.config, res.value);
  if (issues.length) return { ok: false, issues };
  const rewrites = await loadRewrites(res.value);
  if (!rewrites.ok) return { ok: false, issues: rewrites.error };
  await sidecar.reconfigure(res.value, rewrites.value);
  return { ok: true, routes: res.value.routes.map((r) => r.name) };
}
