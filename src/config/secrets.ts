/**
 * Start-up check of every secret file the config names (admin token, gossip
 * secret, decision-id key): readable and strong enough (secret-strength.ts).
 * `serve` and `aggregator` refuse to start on any issue, each reported at the
 * config path that names the file, like any other config issue.
 */
import { readFile } from 'node:fs/promises';
import { issue } from './issues.js';
import { secretProblem } from '../util/secret-strength.js';
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
    let text: string;
    try {
      text = (await readFile(file, 'utf8')).trim();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
      issues.push(issue(path, `cannot read ${file}: ${reason}`));
      continue;
    }
    const problem = secretProblem(text);
    if (problem !== undefined) issues.push(issue(path, `${file}: ${problem}`));
  }
  return issues;
}
