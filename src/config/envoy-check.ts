/**
 * Checks a sidecar config against the Envoy bootstrap it will run with
 * (`validate --envoy FILE`): the wiring that, when wrong, routes nothing or
 * fails closed, and which neither file's own validator can see.
 *
 * Errors: an arm's cluster missing; no fail-open (catch-all) route to the
 * route's default arm; ext_proc not fail-open, missing, after the router, or
 * its cluster not HTTP/2; a client-sent x-bandit-cluster not stripped before
 * routing; no route steering by x-bandit-cluster; a body rewrite on a route
 * whose body Envoy never sends; a host rewrite Envoy would drop; outcomes that
 * never arrive (`outcomes.source` against the response phase or the gRPC
 * access log).
 * Warnings: what works but is probably not meant.
 */
import { CLUSTER_HEADER, DECISION_ID_HEADER } from '../engine/extproc-bridge.js';
import { formatPath, issue, type PathSegment } from './issues.js';
import type { Config, ConfigIssue } from './types.js';

export interface EnvoyCheckResult {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const typeIs = (o: unknown, suffix: string): boolean => isObj(o) && typeof o['@type'] === 'string' && (o['@type'] as string).endsWith(suffix);

const EXT_PROC_NAME = 'envoy.filters.http.ext_proc';
const ROUTER_SUFFIX = '.filters.http.router.v3.Router';
/** Envoy's default per-connection buffer limit: how much of a body it buffers for ext_proc. */
const ENVOY_DEFAULT_BUFFER_LIMIT = 1024 * 1024;

/** An Envoy-side issue path: `envoy:static_resources.clusters[2].name`. */
const at = (path: readonly PathSegment[], message: string): ConfigIssue => ({ path: `envoy:${formatPath(path)}`, message });

interface Hcm {
  path: PathSegment[];
  hcm: Obj;
  listener: Obj;
}

function connectionManagers(doc: Obj): Hcm[] {
  const out: Hcm[] = [];
  const listeners = arr((doc.static_resources as Obj | undefined)?.listeners);
  listeners.forEach((l, li) => {
    if (!isObj(l)) return;
    arr(l.filter_chains).forEach((fc, ci) => {
      if (!isObj(fc)) return;
      arr(fc.filters).forEach((f, fi) => {
        if (isObj(f) && typeIs(f.typed_config, '.HttpConnectionManager')) {
          out.push({ path: ['static_resources', 'listeners', li, 'filter_chains', ci, 'filters', fi, 'typed_config'], hcm: f.typed_config as Obj, listener: l });
        }
      });
    });
  });
  return out;
}

function isHttp2Cluster(c: Obj): boolean {
  if (isObj(c.http2_protocol_options)) return true;
  const opts = (c.typed_extension_protocol_options as Obj | undefined)?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  if (!isObj(opts)) return false;
  return isObj((opts.explicit_http_config as Obj | undefined)?.http2_protocol_options) || isObj((opts.use_downstream_protocol_config as Obj | undefined)?.http2_protocol_options);
}

/** Does an Envoy route match a request for `path` that carries no x-bandit-cluster header? undefined: cannot tell (regex, other headers). */
function matchesWithoutDecision(route: Obj, path: string): boolean | undefined {
  const m = route.match;
  if (!isObj(m)) return undefined;
  for (const h of arr(m.headers)) {
    if (!isObj(h)) return undefined;
    if (String(h.name).toLowerCase() === CLUSTER_HEADER) {
      // present_match / any value: needs the header, which this request lacks
      if (h.invert_match === true) continue;
      return false;
    }
    return undefined;
  }
  if (typeof m.prefix === 'string') return path.startsWith(m.prefix);
  if (typeof m.path === 'string') return path === m.path;
  if (typeof m.path_separated_prefix === 'string') return path === m.path_separated_prefix || path.startsWith(`${m.path_separated_prefix}/`);
  return undefined;
}

function bodyMode(o: unknown): string | undefined {
  const pm = isObj(o) ? o.processing_mode : undefined;
  return isObj(pm) && typeof pm.request_body_mode === 'string' ? pm.request_body_mode : undefined;
}

const GRPC_ACCESS_LOG_SUFFIX = '.HttpGrpcAccessLogConfig';
const lower = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase());

/**
 * Where outcomes come from (`outcomes.source`, docs/outcomes.md) must match
 * what this Envoy sends the sidecar: otherwise no outcome ever arrives, and
 * the bandit learns nothing and no guardrail can trip.
 */
function checkOutcomeSource(config: Config, hcm: Obj, path: PathSegment[], ep: Obj, epPath: PathSegment[], sidecarCluster: string | null, errors: ConfigIssue[], warnings: ConfigIssue[]): void {
  const pm = isObj(ep.processing_mode) ? ep.processing_mode : {};
  const responseMode = typeof pm.response_header_mode === 'string' ? pm.response_header_mode : 'SEND'; // Envoy's default
  const modePath = [...epPath, 'processing_mode', 'response_header_mode'];
  if (config.outcomes.source === 'response_headers') {
    if (responseMode === 'SKIP') {
      errors.push(at(modePath, 'SKIP, but outcomes.source is response_headers: the sidecar never sees a response, so nothing is learned and no guardrail trips (set SEND, or outcomes.source: access_log with a gRPC access log as in envoy/envoy-accesslog.yaml)'));
    }
    return;
  }
  const logs = arr(hcm.access_log);
  const li = logs.findIndex((l) => isObj(l) && typeIs(l.typed_config, GRPC_ACCESS_LOG_SUFFIX));
  if (li < 0) {
    errors.push(at([...path, 'access_log'], 'outcomes.source is access_log, but no gRPC access log (envoy.access_loggers.http_grpc) goes to the sidecar: no outcome arrives, so nothing is learned and no guardrail trips (envoy/envoy-accesslog.yaml has one)'));
    return;
  }
  const logPath = [...path, 'access_log', li, 'typed_config'];
  const log = (logs[li] as Obj).typed_config as Obj;
  const cluster = (((log.common_config as Obj | undefined)?.grpc_service as Obj | undefined)?.envoy_grpc as Obj | undefined)?.cluster_name;
  if (sidecarCluster !== null && typeof cluster === 'string' && cluster !== sidecarCluster) {
    errors.push(at([...logPath, 'common_config', 'grpc_service', 'envoy_grpc', 'cluster_name'], `${JSON.stringify(cluster)}: the access log must go to the sidecar's cluster ${JSON.stringify(sidecarCluster)}, where the decisions are`));
  }
  if (!lower(log.additional_request_headers_to_log).includes(DECISION_ID_HEADER)) {
    errors.push(at([...logPath, 'additional_request_headers_to_log'], `must include ${DECISION_ID_HEADER}: the sidecar matches each entry to its decision by it, so without it nothing is learned`));
  }
  const logged = lower(log.additional_response_headers_to_log);
  config.routes.forEach((r, ri) => {
    const h = r.reward.header;
    if (h !== null && !logged.includes(h.toLowerCase())) {
      warnings.push(issue(['routes', ri, 'reward', 'header'], `${h} is not in the access log's additional_response_headers_to_log (envoy:${formatPath(logPath)}): the backend's reward header is never seen`));
    }
  });
  if (responseMode !== 'SKIP') {
    warnings.push(at(modePath, `${responseMode}, but outcomes come from the access log: one more round trip per request that learns nothing (set SKIP)`));
  }
}

export function checkEnvoyConfig(config: Config, envoyDoc: unknown): EnvoyCheckResult {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  if (!isObj(envoyDoc)) return { errors: [at([], 'not an Envoy bootstrap (expected a mapping with static_resources)')], warnings };

  // --- clusters ---
  const clusterList = arr((envoyDoc.static_resources as Obj | undefined)?.clusters);
  const clusters = new Map<string, { c: Obj; i: number }>();
  clusterList.forEach((c, i) => {
    if (isObj(c) && typeof c.name === 'string') clusters.set(c.name, { c, i });
  });
  const dynamicClusters = isObj((envoyDoc.dynamic_resources as Obj | undefined)?.cds_config);
  config.routes.forEach((r, ri) =>
    r.arms.forEach((a, ai) => {
      if (clusters.has(a.cluster)) return;
      if (dynamicClusters) warnings.push(issue(['routes', ri, 'arms', ai, 'cluster'], `cluster ${JSON.stringify(a.cluster)} is not among the static clusters; Envoy takes clusters from CDS, so it cannot be checked here`));
      else errors.push(issue(['routes', ri, 'arms', ai, 'cluster'], `no cluster ${JSON.stringify(a.cluster)} in the Envoy config (clusters: ${[...clusters.keys()].join(', ') || 'none'})`));
    }),
  );

  // --- the HTTP connection manager that calls the sidecar ---
  const hcms = connectionManagers(envoyDoc).filter(({ hcm }) =>
    arr(hcm.http_filters).some((f) => isObj(f) && (f.name === EXT_PROC_NAME || typeIs(f.typed_config, '.ExternalProcessor'))),
  );
  if (hcms.length === 0) {
    errors.push(at(['static_resources', 'listeners'], `no HTTP connection manager with the ${EXT_PROC_NAME} filter: Envoy never asks the sidecar`));
    return { errors, warnings };
  }
  const hostRewrites = config.routes.some((r) => r.arms.some((a) => a.rewrite?.host));

  for (const { path, hcm, listener } of hcms) {
    const filters = arr(hcm.http_filters);
    const epIndex = filters.findIndex((f) => isObj(f) && (f.name === EXT_PROC_NAME || typeIs(f.typed_config, '.ExternalProcessor')));
    const epFilter = filters[epIndex] as Obj;
    const epName = typeof epFilter.name === 'string' ? epFilter.name : EXT_PROC_NAME;
    const ep = isObj(epFilter.typed_config) ? epFilter.typed_config : {};
    const epPath = [...path, 'http_filters', epIndex, 'typed_config'];
    const routerIndex = filters.findIndex((f) => isObj(f) && typeIs(f.typed_config, ROUTER_SUFFIX));
    if (routerIndex >= 0 && routerIndex < epIndex) errors.push(at([...path, 'http_filters', epIndex], 'the ext_proc filter comes after the router: it never runs'));
    if (ep.failure_mode_allow !== true) {
      errors.push(at([...epPath, 'failure_mode_allow'], 'must be true: with it false, a sidecar that is down or slow fails every request (500) instead of serving the default arm'));
    }
    const grpcCluster = ((ep.grpc_service as Obj | undefined)?.envoy_grpc as Obj | undefined)?.cluster_name;
    if (typeof grpcCluster === 'string') {
      const c = clusters.get(grpcCluster);
      if (!c) errors.push(at([...epPath, 'grpc_service', 'envoy_grpc', 'cluster_name'], `no cluster ${JSON.stringify(grpcCluster)} for the sidecar`));
      else if (!isHttp2Cluster(c.c)) errors.push(at(['static_resources', 'clusters', c.i], `cluster ${JSON.stringify(grpcCluster)} (the sidecar) must speak HTTP/2: gRPC needs it (explicit_http_config.http2_protocol_options)`));
    }
    if (isObj(ep.processing_mode) && ep.processing_mode.request_header_mode === 'SKIP') {
      errors.push(at([...epPath, 'processing_mode', 'request_header_mode'], 'SKIP: the sidecar never sees a request, so it never decides'));
    }
    checkOutcomeSource(config, hcm, path, ep, epPath, typeof grpcCluster === 'string' ? grpcCluster : null, errors, warnings);
    if (hostRewrites && (ep.mutation_rules as Obj | undefined)?.allow_all_routing !== true) {
      errors.push(at([...epPath, 'mutation_rules', 'allow_all_routing'], 'an arm sets rewrite.host, but Envoy drops :authority/Host mutations from ext_proc unless this is true'));
    }
    const timeout = typeof ep.message_timeout === 'string' ? Number.parseFloat(ep.message_timeout) : undefined;
    if (timeout !== undefined && timeout > 1) warnings.push(at([...epPath, 'message_timeout'], `${ep.message_timeout}: every request waits this long before failing open when the sidecar hangs`));

    // --- a client's x-bandit-cluster is stripped before the first route match ---
    const strips = arr(hcm.early_header_mutation_extensions).some((ext) =>
      isObj(ext) && arr((ext.typed_config as Obj | undefined)?.mutations).some((m) => isObj(m) && typeof m.remove === 'string' && m.remove.toLowerCase() === CLUSTER_HEADER),
    );
    if (!strips) {
      errors.push(at([...path, 'early_header_mutation_extensions'], `a client-sent ${CLUSTER_HEADER} is not removed before routing: while the sidecar is down (fail-open) or on routes it does not match, the client picks the cluster (add a header_mutation that removes it)`));
    }

    // --- routes ---
    const rc = hcm.route_config;
    if (!isObj(rc)) {
      warnings.push(at([...path, 'rds'], 'routes come from RDS: the steering and fail-open routes cannot be checked here'));
      continue;
    }
    arr(rc.virtual_hosts).forEach((vh, vi) => {
      if (!isObj(vh)) return;
      const routes = arr(vh.routes);
      const vhPath = [...path, 'route_config', 'virtual_hosts', vi, 'routes'];
      const steering = routes.findIndex((r) => isObj(r) && isObj(r.route) && String(r.route.cluster_header ?? '').toLowerCase() === CLUSTER_HEADER);
      if (steering < 0) {
        errors.push(at(vhPath, `no route with cluster_header: ${CLUSTER_HEADER}: the sidecar's choice is never applied`));
      } else {
        const needsHeader = arr((routes[steering] as Obj & { match?: Obj }).match?.headers).some((h) => isObj(h) && String(h.name).toLowerCase() === CLUSTER_HEADER);
        if (!needsHeader) errors.push(at([...vhPath, steering, 'match'], `the steering route must match only requests that carry ${CLUSTER_HEADER} (headers: [{name: ${CLUSTER_HEADER}, present_match: true}]); otherwise requests without a decision fail`));
      }
      config.routes.forEach((r, ri) => {
        const probe = r.match.path_prefix ?? '/';
        const idx = routes.findIndex((er) => isObj(er) && matchesWithoutDecision(er, probe) === true);
        const defaultCluster = r.arms.find((a) => a.name === r.default_arm)?.cluster;
        if (idx < 0) {
          errors.push(at(vhPath, `no catch-all route for ${probe} without a decision: while the sidecar is down, route ${JSON.stringify(r.name)} fails instead of going to its default arm (cluster ${JSON.stringify(defaultCluster)})`));
          return;
        }
        const er = routes[idx] as Obj;
        const action = isObj(er.route) ? er.route : {};
        if (typeof action.cluster === 'string') {
          if (action.cluster !== defaultCluster) {
            errors.push(at([...vhPath, idx, 'route', 'cluster'], `the fail-open route for ${probe} goes to ${JSON.stringify(action.cluster)}, but route ${JSON.stringify(r.name)}'s default arm ${JSON.stringify(r.default_arm)} is cluster ${JSON.stringify(defaultCluster)}`));
          }
        } else if (action.weighted_clusters !== undefined) {
          warnings.push(at([...vhPath, idx, 'route'], `the fail-open route for ${probe} splits by weighted_clusters; route ${JSON.stringify(r.name)}'s default arm is ${JSON.stringify(r.default_arm)}`));
        } else {
          errors.push(at([...vhPath, idx, 'route'], `the fail-open route for ${probe} names no cluster; route ${JSON.stringify(r.name)} needs it to go to cluster ${JSON.stringify(defaultCluster)}`));
        }
        if (r.body_rewrite !== null) {
          const perRoute = (er.typed_per_filter_config as Obj | undefined)?.[epName];
          const mode = bodyMode((perRoute as Obj | undefined)?.overrides) ?? bodyMode(ep) ?? 'NONE';
          if (mode === 'NONE' || mode === 'STREAMED' || mode === 'FULL_DUPLEX_STREAMED') {
            errors.push(at([...vhPath, idx, 'typed_per_filter_config'], `route ${JSON.stringify(r.name)} rewrites the body's model, but Envoy sends no buffered body on this route (request_body_mode ${mode}); add an ExtProcPerRoute override with request_body_mode: BUFFERED_PARTIAL (docs/backends.md)`));
          } else if (mode === 'BUFFERED') {
            warnings.push(at([...vhPath, idx, 'typed_per_filter_config'], 'request_body_mode BUFFERED answers 413 to a body over Envoy\'s buffer limit; BUFFERED_PARTIAL passes it on unchanged'));
          }
          const limit = typeof listener.per_connection_buffer_limit_bytes === 'number' ? listener.per_connection_buffer_limit_bytes : ENVOY_DEFAULT_BUFFER_LIMIT;
          if (limit < r.body_rewrite.max_bytes) {
            warnings.push(issue(['routes', ri, 'body_rewrite', 'max_bytes'], `${r.body_rewrite.max_bytes} is more than Envoy buffers (per_connection_buffer_limit_bytes ${limit}): bodies between the two pass unchanged`));
          }
        }
      });
    });
  }
  return { errors, warnings };
}
