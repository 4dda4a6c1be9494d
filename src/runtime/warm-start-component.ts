import type { Config } from '../config/types.js';
import { fileIssue, formatIssues, issuesError } from '../config/issues.js';
import { loadWarmStart, warmStartPath } from '../state/warm-start.js';
import { ok } from '../util/errors.js';
import type { ComponentFactory } from './component.js';

/**
 * Loads each route's warm-start prior (state/warm-start.ts) before the
 * sidecar serves; a prior `serve` already built with its file check
 * (ctx.priors) is taken as is, not read again. At start an unreadable or
 * unusable source stops the start with an error naming the field, the file
 * and the problem; on a reload it is logged and the route keeps its previous
 * prior.
 */
export const warmStartComponent: ComponentFactory = (ctx) => {
  const load = async (config: Config, strict: boolean) => {
    const loaded = new Set<string>();
    for (const [i, route] of config.routes.entries()) {
      const ws = route.warm_start;
      if (!ws) continue;
      loaded.add(route.name);
      const given = strict ? ctx.priors?.get(route.name) : undefined;
      const res = given ? ok(given) : await loadWarmStart(route, ws);
      if (!res.ok) {
        const problem = fileIssue(warmStartPath(i), res.error);
        if (strict) throw issuesError([problem]);
        ctx.logger.error({ err: formatIssues([problem])[0], code: res.error.code, route: route.name }, 'warm start unreadable; the route keeps its previous prior');
        continue;
      }
      const p = res.value;
      ctx.state.setPrior(route.name, p);
      ctx.logger.info(
        { route: route.name, from: ws.from, kind: ws.kind, source_samples: p.sourceSamples, effective_samples: p.sourceSamples * p.scale, as_of: new Date(p.at).toISOString() },
        'warm start loaded',
      );
    }
    for (const route of config.routes) if (!loaded.has(route.name)) ctx.state.setPrior(route.name, null);
  };
  return { name: 'warm-start', start: () => load(ctx.config, true), stop: async () => {}, reconfigure: (c: Config) => load(c, false) };
};
