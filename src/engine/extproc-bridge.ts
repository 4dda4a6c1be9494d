import type { BodyRewriteOutcome, Metrics } from '../metrics/metrics.js';
import { EMPTY_REWRITES, type RewriteTable } from '../rewrite/arm-rewrites.js';
import { rewriteModel } from '../rewrite/json-model.js';
import type {
  AccessLogEntry,
  ExtProcHandler,
  HeaderEdit,
  HeaderList,
  RequestBodyReply,
  RequestHeadersReply,
  ResponseHeadersReply,
  StreamContext,
  StreamEndReason,
} from '../extproc/handler.js';
import { exchangeFromAccessLog } from './access-log-exchange.js';
import type { Decision, Engine } from './engine.js';
import { PendingDecisions } from './pending.js';

export const CLUSTER_HEADER = 'x-bandit-cluster';
export const DECISION_ID_HEADER = 'x-bandit-decision-id';
export const ARM_HEADER = 'x-bandit-arm';

/** A request whose route matched none: strip a client-sent steering header so it cannot pick the cluster. */
const STRIP_CLIENT_CLUSTER: RequestHeadersReply = { set: [], remove: [CLUSTER_HEADER], clearRouteCache: true };

/**
 * Adapts Envoy to the engine. Request headers → decide → steer with
 * `x-bandit-cluster` (+ clear_route_cache, which makes Envoy re-match routes on
 * the mutated headers). The outcome comes from one of two sources
 * (`outcomes.source`, docs/outcomes.md):
 * - `response_headers`: the ext_proc response-headers phase on the same stream
 *   (status and time to headers; Envoy's local 503/504 replies included),
 *   which also tells the client the arm.
 * - `access_log`: Envoy's gRPC access log, matched by decision id; the request
 *   carries `x-bandit-arm` so Envoy can echo it to the client itself.
 */
export class EngineExtProcHandler implements ExtProcHandler<Decision> {
  /** Per-arm request rewrites, replaced as a whole on start and reload. */
  rewrites: RewriteTable = EMPTY_REWRITES;
  readonly pending: PendingDecisions<Decision>;

  constructor(
    private readonly engine: Engine,
    private readonly metrics: Pick<Metrics, 'bodyRewrites'> | null = null,
  ) {
    const o = engine.config.outcomes;
    this.pending = new PendingDecisions<Decision>(o.max_pending, o.pending_ttl_ms, (_d, why) =>
      engine.metricsOrNull?.extprocErrors.inc({ kind: why === 'expired' ? 'outcome_expired' : 'outcome_overflow' }),
    );
  }

  get requestOnly(): boolean {
    return this.engine.config.outcomes.source === 'access_log';
  }

  onRequestHeaders(headers: HeaderList, stream: StreamContext<Decision>): RequestHeadersReply | null {
    const route = this.engine.match(headers);
    if (!route) return headers.get(CLUSTER_HEADER) === undefined ? null : STRIP_CLIENT_CLUSTER;
    const d = this.engine.decide(route, headers);
    const set: HeaderEdit[] = [
      [CLUSTER_HEADER, d.cluster],
      [DECISION_ID_HEADER, d.id],
    ];
    if (this.requestOnly) {
      // The outcome comes from the access log; the stream keeps the decision
      // only for a body rewrite (onResponseHeaders never scores it).
      this.pending.add(d.id, d, d.startedAt);
      set.push([ARM_HEADER, d.armName]);
      if (route.config.body_rewrite !== null) stream.decision = d;
    } else stream.decision = d;
    // After the decision: the chosen arm's own host, headers and secrets (both outcome sources).
    const rw = this.rewrites.get(route.name)?.[d.arm];
    if (rw) for (const edit of rw.headers) set.push(edit);
    return { set, remove: route.stripOnRequest, clearRouteCache: true };
  }

  /**
   * The buffered body of a request on a `body_rewrite` route: the chosen arm's
   * `model` goes into the JSON. Bodies Envoy could not buffer whole, bodies
   * over the route's limit, non-JSON bodies and bodies without a `model`
   * string pass unchanged, each counted by reason. The response (SSE streams
   * included) is never touched.
   */
  onRequestBody(body: Buffer, endOfStream: boolean, stream: StreamContext<Decision>): RequestBodyReply | null {
    const d = stream.decision;
    if (!d) return null;
    const limit = d.route.config.body_rewrite;
    const model = limit ? this.rewrites.get(d.route.name)?.[d.arm]?.model : undefined;
    if (!limit || !model) return null;
    let outcome: BodyRewriteOutcome;
    let reply: RequestBodyReply | null = null;
    if (!endOfStream || body.length > limit.max_bytes) outcome = 'too_large';
    else {
      const r = rewriteModel(body, model);
      if (r.ok) {
        outcome = 'rewritten';
        reply = { body: r.body };
      } else outcome = r.reason;
    }
    this.metrics?.bodyRewrites.inc({ route: d.route.name, arm: d.armName, outcome });
    return reply;
  }

  onResponseHeaders(headers: HeaderList, stream: StreamContext<Decision>): ResponseHeadersReply | null {
    const d = stream.decision;
    stream.decision = undefined;
    // access_log: the log entry scores the exchange; scoring here too would count it twice.
    if (!d || this.requestOnly) return null;
    const status = Number(headers.get(':status'));
    const rewardHeaderName = d.route.config.reward.header;
    const rewardHeader = rewardHeaderName ? headers.get(rewardHeaderName) : undefined;
    this.engine.onResponse(d, Number.isFinite(status) ? status : 0, rewardHeader);
    const set: HeaderEdit[] = [
      [ARM_HEADER, d.armName],
      [DECISION_ID_HEADER, d.id],
    ];
    // The signed pin overwrites any a backend sent; clients echo it on their next request.
    const pin = this.engine.pinFor(d);
    if (pin !== undefined) set.push(pin);
    return { set };
  }

  onStreamEnd(stream: StreamContext<Decision>, _reason: StreamEndReason): void {
    // Two-phase: Envoy's own replies (504 on a route timeout, 503 on a connect
    // failure or a reset before headers) pass the response-headers phase and
    // are scored there. A stream that ends without them was cancelled by the
    // client, or Envoy gave up waiting for this sidecar and failed open to the
    // default arm: neither is the chosen arm's doing, so it yields no reward.
    stream.decision = undefined;
  }

  onAccessLog(entries: readonly AccessLogEntry[]): void {
    for (const e of entries) {
      if (e.intermediate) continue;
      const id = e.requestHeaders.get(DECISION_ID_HEADER);
      if (id === undefined) continue; // a request no route matched
      const d = this.pending.take(id);
      if (!d) {
        this.engine.metricsOrNull?.extprocErrors.inc({ kind: 'outcome_unmatched' });
        continue;
      }
      this.engine.onExchange(d, exchangeFromAccessLog(e, d.route.config.reward.header, this.engine.elapsedMs(d)));
    }
  }
}
