import type {
  ExtProcHandler,
  HeaderEdit,
  HeaderList,
  RequestHeadersReply,
  ResponseHeadersReply,
  StreamContext,
  StreamEndReason,
} from '../extproc/handler.js';
import type { Decision, Engine } from './engine.js';

export const CLUSTER_HEADER = 'x-bandit-cluster';
export const DECISION_ID_HEADER = 'x-bandit-decision-id';
export const ARM_HEADER = 'x-bandit-arm';

/** A request whose route matched none: strip a client-sent steering header so it cannot pick the cluster. */
const STRIP_CLIENT_CLUSTER: RequestHeadersReply = { set: [], remove: [CLUSTER_HEADER], clearRouteCache: true };

/**
 * Adapts Envoy's two header phases to the engine: request headers → decide →
 * steer with `x-bandit-cluster` (+ clear_route_cache, which makes Envoy
 * re-match routes on the mutated headers); response headers → reward, and tell
 * the client which arm served it.
 */
export class EngineExtProcHandler implements ExtProcHandler<Decision> {
  constructor(private readonly engine: Engine) {}

  onRequestHeaders(headers: HeaderList, stream: StreamContext<Decision>): RequestHeadersReply | null {
    const route = this.engine.match(headers);
    if (!route) return headers.get(CLUSTER_HEADER) === undefined ? null : STRIP_CLIENT_CLUSTER;
    const d = this.engine.decide(route, headers);
    stream.decision = d;
    const set: HeaderEdit[] = [
      [CLUSTER_HEADER, route.clusters[d.arm]!],
      [DECISION_ID_HEADER, d.id],
    ];
    return { set, remove: route.stripOnRequest, clearRouteCache: true };
  }

  onResponseHeaders(headers: HeaderList, stream: StreamContext<Decision>): ResponseHeadersReply | null {
    const d = stream.decision;
    if (!d) return null;
    stream.decision = undefined;
    const status = Number(headers.get(':status'));
    const rewardHeaderName = d.route.config.reward.header;
    const rewardHeader = rewardHeaderName ? headers.get(rewardHeaderName) : undefined;
    this.engine.onResponse(d, Number.isFinite(status) ? status : 0, rewardHeader);
    const set: HeaderEdit[] = [
      [ARM_HEADER, d.route.armNames[d.arm]!],
      [DECISION_ID_HEADER, d.id],
    ];
    // The signed pin overwrites any a backend sent; clients echo it on their next request.
    const pin = this.engine.pinFor(d);
    if (pin !== undefined) set.push([d.route.config.sticky!.pin_header!, pin]);
    return { set };
  }

  onStreamEnd(stream: StreamContext<Decision>, _reason: StreamEndReason): void {
    // A stream that ends without response headers (client cancel, upstream
    // reset before headers, Envoy's early close) yields no reward: we did not
    // observe the outcome, and guessing would bias the arm.
    stream.decision = undefined;
  }
}
