import type { Logger } from 'pino';
import type { ConfigRejection } from '../config/issues.js';
import type { Engine } from '../engine/engine.js';
import type { RouteRuntime } from '../engine/route-runtime.js';
import type { EventSink } from '../notify/events.js';
import type { FeedbackAnswer, FeedbackManager } from '../reward/feedback.js';
import { MAX_FEEDBACK_BATCH } from '../reward/feedback-answer.js';
import type { ComponentFactory } from '../runtime/component.js';
import { armStateOf, refreshArmGauges } from '../runtime/gauges.js';
import { ANONYMOUS } from '../engine/engine.js';
import { stampText } from '../state/hlc.js';
import { ErrorCodes, type Result } from '../util/errors.js';
import { jsonError, type AdminReply, type AdminRequest, type AdminRoute } from './http.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ArmReadingsBoard } from './route-info.js';
import { fleetAdminRoute } from './fleet.js';

/** One audit line per admin mutation: who, what, result (pino adds when). */
export function audit(logger: Logger, req: AdminRequest, action: string, target: Record<string, string>, result: string, extra: Record<string, unknown> = {}): void {
  const line = { audit: true, caller: req.caller, method: req.method, path: req.path, action, ...target, result, ...extra };
  if (result === 'ok') logger.info(line, 'admin mutation');
  else logger.warn(line, 'admin mutation refused');
}

/** The header an operator (or the `ctl` CLI) names themselves with; records and the audit keep it. */
export const OPERATOR_HEADER = 'x-bandit-operator';
export const MAX_OPERATOR_NAME = 128;
const OPERATOR_NAME = /^[\x21-\x7e][\x20-\x7e]*$/;

/** Who an admin call acts as: the operator header, or "anonymous"; a bad header is an error message. */
export function operatorOf(req: AdminRequest): { who: string } | { error: string } {
  const raw = req.headers[OPERATOR_HEADER];
  if (raw === undefined) return { who: ANONYMOUS };
  const v = Array.isArray(raw) ? raw.join(',') : raw;
  if (v.length > MAX_OPERATOR_NAME || !OPERATOR_NAME.test(v)) {
    return { error: `${OPERATOR_HEADER}: expected 1-${MAX_OPERATOR_NAME} printable ASCII characters` };
  }
  return { who: v };
}

/** This replica's last admin mutations, newest last (GET /v1/audit). */
export const AUDIT_TRAIL_SIZE = 1_000;
export interface AuditEvent {
  time: number;
  who: string;
  caller: string;
  action: string;
  route: string;
  arm?: string;
  result: string;
}


const routeNotFound = (name: string) => jsonError(404, ErrorCodes.ADMIN_NOT_FOUND, `no such route: ${name}`);

/** GET /v1/routes: everything needed to explain the current traffic split. */
export function describeRoutes(engine: Engine, readings: ArmReadingsBoard | null = null): unknown {
  const now = engine.clock.now();
  return {
    replica: engine.state.replicaId,
    time: now,
    routes: engine.routes.map((r) => describeRoute(engine, r, now, readings)),
  };
}

function describeRoute(engine: Engine, r: RouteRuntime, now: number, readings: ArmReadingsBoard | null): unknown {
  const shares = engine.shares(r, now);
  const summary = engine.armSummary(r);
  const { min_share, drift, ...params } = r.config.policy;
  engine.syncRecords(r);
  return {
    name: r.name,
    mode: r.mode,
    policy: { ...params, drift, min_share },
    default_arm: r.armNames[r.defaultArm],
    feedback: r.config.reward.feedback,
    arms: summary.map((s, a) => {
      const name = s.arm;
      const state = armStateOf(engine, r.name, a);
      const flags = engine.quarantineFlags(r, a, now);
      return {
        name,
        cluster: r.clusters[a],
        cost: r.costs[a],
        state,
        quarantine: flags.length
          ? flags.map((f) => ({ rule: f.rule, replica: f.replica, who: f.who, since: f.since, until: f.until >= Number.MAX_SAFE_INTEGER ? null : f.until }))
          : null,
        params: s.params,
        mean: s.mean,
        samples: s.stats.n,
        share: shares[a] ?? 0,
        readings: readings?.read(r.name, name) ?? null,
      };
    }),
  };
}

/**
 * GET /v1/audit: the fleet's operator and guardrail records in force (who,
 * what, when, from which replica; the same on every replica once gossip has
 * carried them) and this replica's last admin mutations.
 */
export function describeAudit(engine: Engine, trail: readonly AuditEvent[]): unknown {
  return {
    replica: engine.state.replicaId,
    time: engine.clock.now(),
    records: engine.state.allRecords().map(({ stamp, by, ...what }) => ({ ...what, who: by.who, replica: by.replica, at: stamp.ms, stamp: stampText(stamp) })),
    events: trail,
  };
}

type RouteAction = 'pause' | 'resume' | 'freeze' | 'reset';
const MODE_OF: Record<Exclude<RouteAction, 'reset'>, 'active' | 'paused' | 'frozen'> = { pause: 'paused', resume: 'active', freeze: 'frozen' };

/** /v1/routes and its mutations. */
export function routeAdminRoutes(engine: Engine, metrics: Metrics | null, logger: Logger, events: EventSink | null = null, readings: ArmReadingsBoard | null = null): AdminRoute[] {
  const refresh = () => {
    if (metrics) refreshArmGauges(engine, metrics);
  };
  const trail: AuditEvent[] = [];
  const remember = (req: AdminRequest, who: string, action: string, route: string, arm: string | undefined, result: string) => {
    trail.push({ time: engine.clock.now(), who, caller: req.caller, action, route, ...(arm === undefined ? {} : { arm }), result });
    if (trail.length > AUDIT_TRAIL_SIZE) trail.shift();
  };
  const routeAction = (action: RouteAction): AdminRoute => ({
    method: 'POST',
    path: `/v1/routes/:route/${action}`,
    mutating: true,
    handle(req) {
      const name = req.params.route ?? '';
      const op = operatorOf(req);
      if ('error' in op) return jsonError(400, ErrorCodes.ADMIN_BAD_REQUEST, op.error);
      const route = engine.route(name);
      if (!route) {
        audit(logger, req, action, { route: name }, 'not_found', { who: op.who });
        remember(req, op.who, action, name, undefined, 'not_found');
        return routeNotFound(name);
      }
      engine.syncRecords(route);
      const before = route.mode;
      if (action === 'reset') engine.reset(name, op.who);
      else engine.setMode(name, MODE_OF[action], op.who);
      refresh();
      if ((action === 'pause' || action === 'resume') && before !== route.mode) events?.publish({ kind: action, scope: 'local', route: name, caller: req.caller });
      audit(logger, req, action, { route: name }, 'ok', { who: op.who, replica: engine.state.replicaId, mode_before: before, mode: route.mode, fleet: true });
      remember(req, op.who, action, name, undefined, 'ok');
      return { status: 200, body: { route: name, action, mode: route.mode, previous_mode: before, scope: 'fleet', replica: engine.state.replicaId, who: op.who } };
    },
  });
  const armAction = (action: 'quarantine' | 'release'): AdminRoute => ({
    method: 'POST',
    path: `/v1/routes/:route/arms/:arm/${action}`,
    mutating: true,
    handle(req) {
      const name = req.params.route ?? '';
      const arm = req.params.arm ?? '';
      const op = operatorOf(req);
      if ('error' in op) return jsonError(400, ErrorCodes.ADMIN_BAD_REQUEST, op.error);
      const route = engine.route(name);
      if (!route) {
        audit(logger, req, action, { route: name, arm }, 'not_found', { who: op.who });
        remember(req, op.who, action, name, arm, 'not_found');
        return routeNotFound(name);
      }
      const a = route.armIndex.get(arm);
      if (a === undefined) {
        audit(logger, req, action, { route: name, arm }, 'not_found', { who: op.who });
        remember(req, op.who, action, name, arm, 'not_found');
        return jsonError(404, ErrorCodes.ADMIN_NOT_FOUND, `no such arm on route ${name}: ${arm}`);
      }
      if (action === 'quarantine') engine.quarantineArm(name, arm, 'manual', undefined, op.who);
      else engine.releaseArm(name, arm, op.who);
      refresh();
      events?.publish({ kind: action, scope: 'local', route: name, arm, how: 'operator', caller: req.caller });
      const state = armStateOf(engine, name, a);
      audit(logger, req, action, { route: name, arm }, 'ok', { who: op.who, replica: engine.state.replicaId, state, fleet: true });
      remember(req, op.who, action, name, arm, 'ok');
      return { status: 200, body: { route: name, arm, action, state, scope: 'fleet', replica: engine.state.replicaId, who: op.who } };
    },
  });
  return [
    { method: 'GET', path: '/v1/routes', mutating: false, handle: () => ({ status: 200, body: describeRoutes(engine, readings) }) },
    { method: 'GET', path: '/v1/audit', mutating: false, handle: () => ({ status: 200, body: describeAudit(engine, trail) }) },
    routeAction('pause'),
    routeAction('resume'),
    routeAction('freeze'),
    routeAction('reset'),
    armAction('quarantine'),
    armAction('release'),
  ];
}

/**
 * POST /v1/feedback: one item or an array. Every well-formed request is
 * answered 200 with an outcome per item; only a body that is neither is a 400.
 * A single item whose issuing replica could not be asked is a 503 (nothing
 * was counted; retry), with the same answer body.
 */
export function feedbackRoute(manager: FeedbackManager, logger: Logger): AdminRoute {
  return {
    method: 'POST',
    path: '/v1/feedback',
    mutating: true,
    async handle(req): Promise<AdminReply> {
      const body = req.body;
      const usage = 'body must be {"decision_id": string, "reward": number in [0,1]} or an array of those';
      if (body === undefined || body === null || typeof body !== 'object') {
        return jsonError(400, ErrorCodes.FEEDBACK_INVALID, usage);
      }
      if (Array.isArray(body)) {
        if (body.length === 0) return jsonError(400, ErrorCodes.FEEDBACK_INVALID, `empty array; ${usage}`);
        if (body.length > MAX_FEEDBACK_BATCH) {
          return jsonError(413, ErrorCodes.FEEDBACK_INVALID, `at most ${MAX_FEEDBACK_BATCH} items per request`);
        }
        const results = await manager.submitBatch(body);
        logger.debug({ caller: req.caller, items: results.length, counts: countOutcomes(results) }, 'feedback received');
        return { status: 200, body: { results, counts: countOutcomes(results) } };
      }
      const result = await manager.submit(body);
      logger.debug({ caller: req.caller, outcome: result.outcome, settled_by: result.settled_by }, 'feedback received');
      return { status: result.outcome === 'unavailable' ? 503 : 200, body: result };
    },
  };
}

function countOutcomes(results: FeedbackAnswer[]): Record<string, number> {
  const counts: Record<string, number> = { accepted: 0, duplicate: 0, expired: 0, invalid: 0, unavailable: 0 };
  for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return counts;
}

/** What a reload answers (runtime/reload.ts): the routes now served, or the rejected config's issues. */
export type ReloadOutcome = Result<{ routes: string[]; restart_needed: string[] }, ConfigRejection>;

/** POST /v1/reload: re-reads the config file; a bad config is a 400 with every issue and the old one keeps serving. */
export function reloadRoute(reload: () => Promise<ReloadOutcome>, logger: Logger): AdminRoute {
  let running: Promise<unknown> = Promise.resolve();
  return {
    method: 'POST',
    path: '/v1/reload',
    mutating: true,
    async handle(req): Promise<AdminReply> {
      // One reload at a time: a second call waits for the first, then reads the file again.
      const attempt = running.then(reload, reload);
      running = attempt.catch(() => undefined);
      let res: ReloadOutcome;
      try {
        res = await attempt;
      } catch (err) {
        audit(logger, req, 'reload', {}, 'failed', { err: (err as Error).message });
        return jsonError(500, ErrorCodes.INTERNAL, `reload failed: ${(err as Error).message}`);
      }
      if (!res.ok) {
        const issues = res.error.issues.map((i) => ({ path: i.path, message: i.message, ...(i.code ? { code: i.code } : {}) }));
        audit(logger, req, 'reload', {}, 'rejected', { issues: issues.map((i) => `${i.path}: ${i.message}`) });
        return { status: 400, body: { error: { code: res.error.code, message: res.error.message, issues } } };
      }
      const { routes, restart_needed } = res.value;
      audit(logger, req, 'reload', {}, 'ok', restart_needed.length ? { routes, restart_needed } : { routes });
      // Sections other than routes changed: named, since they wait for a restart.
      return { status: 200, body: restart_needed.length ? { status: 'reloaded', routes, restart_needed } : { status: 'reloaded', routes } };
    },
  };
}

/** Registers /v1/routes and the route and arm mutations on the admin server. */
export const adminRoutesComponent: ComponentFactory = (ctx) => {
  for (const r of routeAdminRoutes(ctx.engine, ctx.metrics, ctx.logger, ctx.events, ctx.readings)) ctx.admin.add(r);
  ctx.admin.add(fleetAdminRoute(ctx.engine));
  return { name: 'admin-routes', start: async () => {}, stop: async () => {} };
};
