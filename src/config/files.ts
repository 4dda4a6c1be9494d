/**
 * Every file a config names that a command reads at start, checked by the
 * same loaders the command starts with (one per kind of file), so that
 * `validate` reports exactly what `serve` (or `aggregator`) would refuse:
 * - secrets (admin.token_file, gossip.secret_file, decision_ids.secret_file): util/secret.ts readSecret
 * - backend and webhook credentials (routes[i].arms[j].rewrite.secret_headers.*.file,
 *   notifications.webhooks[i].bearer_token_file): util/secret.ts readHeaderValue
 * - the mutual-TLS set (tls.cert, tls.key, tls.ca): util/tls-files.ts readTlsMaterial
 * - warm-start sources (routes[i].warm_start.from): state/warm-start.ts loadWarmStart
 * - the decision log (log.decisions_file) can be appended to or created:
 *   log/decision-log.ts checkDecisionLogFile (EB_DECISION_LOG_WRITE)
 * Each issue is at the config path naming the file, with EB_CONFIG_READ
 * (cannot be read), EB_CONFIG_INVALID (read, but unusable) or
 * EB_DECISION_LOG_WRITE. `serve` and
 * `aggregator` run this before anything listens and exit 1 on any issue;
 * their components read the files again with the same loaders, so a file
 * that changes in between fails with the same path and code.
 *
 * Nothing is created by a check. A state.snapshot_file that does not load
 * does not stop `serve` (it starts empty, and says so): `fileWarnings` says
 * the same in `validate`. The aggregator's reward log is the aggregator's
 * own to open.
 */
import { checkDecisionLogFile } from '../log/decision-log.js';
import { loadWebhookTokens } from '../notify/component.js';
import { loadRewrites } from '../rewrite/arm-rewrites.js';
import { readSlotFile } from '../state/persistence.js';
import { loadWarmStart, warmStartPath, type WarmPrior } from '../state/warm-start.js';
import { readSecret } from '../util/secret.js';
import { readTlsMaterial } from '../util/tls-files.js';
import { fileIssue } from './issues.js';
import type { Config, ConfigIssue } from './types.js';

/** Which command's start the check stands for: the aggregator reads only the secrets and the TLS set. */
export type FileRole = 'serve' | 'aggregator';

/** [config path, file] of every secret the config uses. */
export function secretFiles(config: Config): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (config.admin.token_file) out.push(['admin.token_file', config.admin.token_file]);
  if (config.gossip?.secret_file) out.push(['gossip.secret_file', config.gossip.secret_file]);
  if (config.decision_ids.secret_file) out.push(['decision_ids.secret_file', config.decision_ids.secret_file]);
  return out;
}

/** Every problem with a file the config names, in config order; [] when the command would start. */
export async function checkConfigFiles(config: Config, role: FileRole = 'serve'): Promise<ConfigIssue[]> {
  return (await readConfigFiles(config, role)).issues;
}

export interface ConfigFiles {
  issues: ConfigIssue[];
  /** Route name → the warm-start prior built while checking (serve starts with these instead of reading the sources again). */
  priors: Map<string, WarmPrior>;
}

/** The check, keeping what is costly to build twice: the warm-start priors. */
export async function readConfigFiles(config: Config, role: FileRole = 'serve'): Promise<ConfigFiles> {
  const issues: ConfigIssue[] = [];
  const priors = new Map<string, WarmPrior>();
  for (const [path, file] of secretFiles(config)) {
    const r = await readSecret(file);
    if (!r.ok) issues.push(fileIssue(path, r.error));
  }
  if (config.tls) {
    const r = await readTlsMaterial(config.tls);
    if (!r.ok) issues.push(...r.error);
  }
  if (role === 'aggregator') return { issues, priors };
  const rewrites = await loadRewrites(config);
  if (!rewrites.ok) issues.push(...rewrites.error);
  for (const [i, route] of config.routes.entries()) {
    if (!route.warm_start) continue;
    const r = await loadWarmStart(route, route.warm_start);
    if (r.ok) priors.set(route.name, r.value);
    else issues.push(fileIssue(warmStartPath(i), r.error));
  }
  const tokens = await loadWebhookTokens(config.notifications);
  if (!tokens.ok) issues.push(...tokens.error);
  if (config.log.decisions_file) {
    const r = await checkDecisionLogFile(config.log.decisions_file);
    if (!r.ok) issues.push(fileIssue('log.decisions_file', r.error));
  }
  return { issues, priors };
}

/** What `serve` would log at start about the files and carry on: a snapshot that does not load (it starts empty). */
export async function fileWarnings(config: Config): Promise<ConfigIssue[]> {
  const file = config.state.snapshot_file;
  if (!file) return [];
  const r = await readSlotFile(file);
  if (r.ok) return [];
  return [{ ...fileIssue('state.snapshot_file', r.error), message: `${r.error.message}; serve would start with empty state (peers and new evidence rebuild it)` }];
}
