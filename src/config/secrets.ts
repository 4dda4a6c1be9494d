/**
 * Start-up check of every secret file the config names (admin token, gossip
 * secret, decision-id key): readable and strong enough (secret-strength.ts).
 * `serve` and `aggregator` refuse to start on any issue, each reported at the
 * config path that names the file, like any other config issue.
 */
import { issue } from './issues.js';
import { readSecret } from '../util/secret.js';
import type { Config, ConfigIssue } from './types.js';

/** [config path, file] of every secret the config uses. */
export function secretFiles(config: Config): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (config.admin.token_file) out.push(['admin.token_file', config.admin.token_file]);
  if (config.gossip?.secret_file) out.push(['gossip.secret_file', config.gossip.secret_file]);
  if (config.decision_ids.secret_file) out.push(['decision_ids.secret_file', config.decision_ids.secret_file]);
  return out;
}

export async function checkSecretFiles(config: Config): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  for (const [path, file] of secretFiles(config)) {
    const r = await readSecret(file);
    if (!r.ok) issues.push(issue(path, r.error.message));
  }
  return issues;
}
