/**
 * Configs that load but are probably not what was meant. Warnings, never
 * errors: `validate` prints them and still exits 0.
 */
import { issue } from './issues.js';
import type { Config, ConfigIssue, DriftConfig } from './types.js';

export function configWarnings(config: Config): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  config.routes.forEach((r, i) => {
    const p = r.policy;
    if (p.type === 'static' && p.min_share === 0) {
      for (const arm of r.arms) {
        if ((p.weights[arm.name] ?? 0) === 0) {
          out.push(issue(['routes', i, 'policy', 'weights', arm.name], `arm ${JSON.stringify(arm.name)} gets no traffic: its static weight is 0 (or missing) and min_share is 0`));
        }
      }
    }
    if (p.type === 'fixed' && r.arms.length > 1 && p.min_share === 0) {
      out.push(issue(['routes', i, 'policy', 'arm'], `only ${JSON.stringify(p.arm)} gets traffic; the other ${r.arms.length - 1} arm(s) never learn (set min_share to probe them)`));
    }
    const byCluster = new Map<string, string>();
    r.arms.forEach((a, j) => {
      const other = byCluster.get(a.cluster);
      if (other !== undefined && a.rewrite === null) {
        out.push(issue(['routes', i, 'arms', j, 'cluster'], `arms ${JSON.stringify(other)} and ${JSON.stringify(a.name)} share cluster ${JSON.stringify(a.cluster)} without a rewrite to tell them apart: both measure the same backend`));
      } else byCluster.set(a.cluster, a.name);
    });
    if (r.body_rewrite !== null && !r.arms.some((a) => a.rewrite?.model)) {
      out.push(issue(['routes', i, 'body_rewrite'], 'no arm sets rewrite.model: the body is read for nothing (and Envoy buffers it)'));
    }
    if (r.match.path_prefix === null && r.match.authority === null && r.match.header === null && i < config.routes.length - 1) {
      out.push(issue(['routes', i, 'match'], `matches every request, so routes after it (${config.routes.slice(i + 1).map((x) => x.name).join(', ')}) never match`));
    }
    const drift = (p as { drift?: DriftConfig }).drift;
    if (drift && (drift.mode === 'discount' || drift.mode === 'window') && (config.gossip !== null || config.aggregator !== null)) {
      out.push(
        issue(
          ['routes', i, 'policy', 'drift', 'mode'],
          `${drift.mode} fades evidence per this replica's own observations: in a fleet, memory grows with the number of replicas and an idle or dead replica's slot keeps full weight until state.slot_expiry; half_life fades every slot by elapsed time`,
        ),
      );
    }
    const g = r.guardrails;
    if (g && r.reward.latency && g.latency_p95 && g.latency_p95.max_ms < r.reward.latency.slo_ms) {
      out.push(issue(['routes', i, 'guardrails', 'latency_p95', 'max'], `below the reward's latency SLO (${r.reward.latency.slo_ms} ms): an arm can be quarantined for latency the reward calls fine`));
    }
  });
  if (config.tls !== null && config.gossip === null && config.aggregator === null) {
    out.push(issue(['tls'], 'neither gossip nor aggregator is set: nothing uses the certificates (they are still read and checked at start)'));
  }
  return out;
}
