/**
 * Per-arm request rewrites, applied after the decision: header edits
 * (`:authority` for virtual-hosted backends such as KServe, fixed headers,
 * headers read from secret files) and the JSON body's `model` field. Compiled
 * once per config load, so the request path only appends a prebuilt list.
 */
import type { Config } from '../config/types.js';
import { fileIssue, formatPath } from '../config/issues.js';
import type { ConfigIssue } from '../config/types.js';
import type { HeaderEdit } from '../extproc/handler.js';
import { err, ok, type Result } from '../util/errors.js';
import { readHeaderValue } from '../util/secret.js';

export interface CompiledArmRewrite {
  /** Header edits added to the decision's reply (set, overwriting). */
  readonly headers: readonly HeaderEdit[];
  /** The body's `model` value for this arm, or null. */
  readonly model: string | null;
}

/** route name → per-arm rewrites (index = arm index); absent when the route has none. */
export type RewriteTable = ReadonlyMap<string, readonly (CompiledArmRewrite | null)[]>;

export const EMPTY_REWRITES: RewriteTable = new Map();

/** Reads every secret header file and compiles the table. A missing or unusable file is an issue with its config path. */
export async function loadRewrites(config: Config): Promise<Result<RewriteTable, ConfigIssue[]>> {
  const issues: ConfigIssue[] = [];
  const table = new Map<string, (CompiledArmRewrite | null)[]>();
  for (const [ri, route] of config.routes.entries()) {
    const arms: (CompiledArmRewrite | null)[] = [];
    let any = false;
    for (const [ai, arm] of route.arms.entries()) {
      const rw = arm.rewrite;
      if (rw === null) {
        arms.push(null);
        continue;
      }
      const headers: HeaderEdit[] = [];
      if (rw.host !== null) headers.push([':authority', rw.host]);
      for (const [name, value] of Object.entries(rw.headers)) headers.push([name, value]);
      for (const [name, secret] of Object.entries(rw.secret_headers)) {
        const value = await readHeaderValue(secret.file);
        if (!value.ok) issues.push(fileIssue(formatPath(['routes', ri, 'arms', ai, 'rewrite', 'secret_headers', name, 'file']), value.error));
        else headers.push([name, secret.prefix + value.value]);
      }
      arms.push({ headers, model: route.body_rewrite === null ? null : rw.model });
      any = true;
    }
    if (any) table.set(route.name, arms);
  }
  return issues.length > 0 ? err(issues) : ok(table);
}
