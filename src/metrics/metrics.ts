import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from '../util/version.js';
import { FastCounter, FastHistogram } from './fast-metrics.js';
import { SumCount } from './sum-count.js';

/**
 * Every metric of contract section 6, on an injected registry. Label values
 * come only from configuration (route, arm, state, rule) or fixed enums
 * (reason, source, outcome, kind), never from a client, so cardinality is
 * bounded by the config.
 */
export type DecisionReason = 'policy' | 'sticky' | 'forced' | 'fallback' | 'paused' | 'quarantine';
export const DECISION_REASONS: readonly DecisionReason[] = ['policy', 'sticky', 'forced', 'fallback', 'paused', 'quarantine'];
export type RewardSource = 'response' | 'feedback' | 'default';
export type BodyRewriteOutcome = 'rewritten' | 'too_large' | 'not_json' | 'no_model_field';
export const REWARD_SOURCES: readonly RewardSource[] = ['response', 'feedback', 'default'];
export type ArmStateName = 'active' | 'quarantined' | 'paused';
export const ARM_STATES: readonly ArmStateName[] = ['active', 'quarantined', 'paused'];
/** `class` of envoy_bandit_responses_total: index = floor(status / 100); 0 for no valid status. */
export const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];
export function statusClass(status: number): StatusClass {
  return status >= 100 && status < 600 ? (STATUS_CLASSES[Math.floor(status / 100)] ?? 'none') : 'none';
}

export interface Metrics {
  registry: Registry;
  /** Request-path metrics hand out per-series handles (fast-metrics.ts): no label hashing per request. */
  decisions: FastCounter<'route' | 'arm' | 'reason'>;
  stickyLookups: Counter<'route' | 'outcome'>;
  decisionDuration: FastHistogram<'route'>;
  rewards: FastCounter<'route' | 'arm' | 'source'>;
  /** `envoy_bandit_reward_sum` / `_count`: a quantile-less summary (see sum-count.ts). */
  rewardSum: SumCount<'route' | 'arm' | 'source'>;
  armTrafficShare: Gauge<'route' | 'arm'>;
  armPosteriorMean: Gauge<'route' | 'arm'>;
  armSamples: Gauge<'route' | 'arm'>;
  armState: Gauge<'route' | 'arm' | 'state'>;
  /** Routes with an SLO: the fleet's error budget left over the window (0..1) and its burn rate (1 = spending it in exactly one window). */
  sloBudgetRemaining: Gauge<'route'>;
  sloBurnRate: Gauge<'route'>;
  upstreamLatency: FastHistogram<'route' | 'arm'>;
  guardrailTrips: Counter<'route' | 'arm' | 'rule'>;
  guardrailHolds: Counter<'route' | 'arm' | 'reason'>;
  feedback: Counter<'outcome'>;
  extprocStreams: Counter<'outcome'>;
  extprocErrors: Counter<'kind'>;
  aggregatorRewards: Counter<'outcome'>;
  aggregatorBuffer: Gauge;
  gossipRounds: Counter<'outcome'>;
  gossipDropped: Counter<'reason'>;
  gossipPeers: Gauge<'state'>;
  stateStaleness: Gauge<'peer'>;
  responses: Counter<'route' | 'arm' | 'class'>;
  /** Guardrail rule readings and their limits (error rules as ratios, latency rules in seconds). */
  guardrailValue: Gauge<'route' | 'arm' | 'rule'>;
  guardrailLimit: Gauge<'route' | 'arm' | 'rule'>;
  buildInfo: Gauge<'version' | 'node'>;
  configReloads: Counter<'outcome'>;
  configLastReload: Gauge;
  configLastReloadOk: Gauge;
  snapshotWrites: Counter<'outcome'>;
  persistenceHealthy: Gauge<'target'>;
  notifications: Counter<'target' | 'outcome'>;
  bodyRewrites: Counter<'route' | 'arm' | 'outcome'>;
}

const PREFIX = 'envoy_bandit_';
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
/** Decision latency lives in microseconds; buckets from 5 µs to 10 ms. */
const DECISION_BUCKETS = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01];
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

export function createMetrics(registry = new Registry(), opts: { processMetrics?: boolean } = {}): Metrics {
  if (opts.processMetrics) {
    collectDefaultMetrics({ register: registry, prefix: PREFIX });
    // prom-client names these gauges *_total, which `promtool check metrics` rejects; nodejs_active_* keep the counts.
    for (const n of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(PREFIX + n);
  }
  const r = [registry];
  const m: Metrics = {
    registry,
    decisions: new FastCounter({ name: `${PREFIX}decisions_total`, help: 'Routing decisions by route, arm and reason.', labelNames: ['route', 'arm', 'reason'], registers: r }),
    stickyLookups: new Counter({ name: `${PREFIX}sticky_lookups_total`, help: 'Sticky-session lookups by how the arm was found (pin, local, assigned) or why not (pin_invalid, key_too_long).', labelNames: ['route', 'outcome'], registers: r }),
    decisionDuration: new FastHistogram({ name: `${PREFIX}decision_duration_seconds`, help: 'Time to decide a request in the sidecar.', labelNames: ['route'], buckets: DECISION_BUCKETS, registers: r }),
    rewards: new FastCounter({ name: `${PREFIX}rewards_total`, help: 'Rewards applied to the statistics.', labelNames: ['route', 'arm', 'source'], registers: r }),
    rewardSum: new SumCount({ name: `${PREFIX}reward`, help: 'Sum of rewards applied to the statistics.', labelNames: ['route', 'arm', 'source'], registers: r }),
    armTrafficShare: new Gauge({ name: `${PREFIX}arm_traffic_share`, help: 'Probability the route sends a new request to the arm.', labelNames: ['route', 'arm'], registers: r }),
    armPosteriorMean: new Gauge({ name: `${PREFIX}arm_posterior_mean`, help: 'Posterior mean reward of the arm (fleet view).', labelNames: ['route', 'arm'], registers: r }),
    armSamples: new Gauge({ name: `${PREFIX}arm_samples`, help: 'Effective samples behind the arm statistics (fleet view).', labelNames: ['route', 'arm'], registers: r }),
    armState: new Gauge({ name: `${PREFIX}arm_state`, help: 'Arm state: 1 for the current state.', labelNames: ['route', 'arm', 'state'], registers: r }),
    sloBudgetRemaining: new Gauge({ name: `${PREFIX}slo_budget_remaining`, help: 'Fraction of the route SLO error budget left over its window, fleet-wide (every replica outcomes).', labelNames: ['route'], registers: r }),
    sloBurnRate: new Gauge({ name: `${PREFIX}slo_burn_rate`, help: 'Fleet error rate over the last twelfth of the SLO window divided by the allowed rate (1 spends the budget in one window).', labelNames: ['route'], registers: r }),
    upstreamLatency: new FastHistogram({ name: `${PREFIX}upstream_latency_seconds`, help: 'The latency each outcome was scored on (time to first byte or total, per route), in seconds.', labelNames: ['route', 'arm'], buckets: UPSTREAM_BUCKETS, registers: r }),
    guardrailTrips: new Counter({ name: `${PREFIX}guardrail_trips_total`, help: 'Guardrail trips by rule.', labelNames: ['route', 'arm', 'rule'], registers: r }),
    guardrailHolds: new Counter({ name: `${PREFIX}guardrail_holds_total`, help: 'Failing verdicts that did not quarantine: common_mode (every arm shifted at once) or last_arm (it would leave the route no arm).', labelNames: ['route', 'arm', 'reason'], registers: r }),
    feedback: new Counter({ name: `${PREFIX}feedback_total`, help: 'Delayed feedback items by outcome.', labelNames: ['outcome'], registers: r }),
    extprocStreams: new Counter({ name: `${PREFIX}extproc_streams_total`, help: 'ext_proc streams by how they ended.', labelNames: ['outcome'], registers: r }),
    extprocErrors: new Counter({ name: `${PREFIX}extproc_errors_total`, help: 'ext_proc protocol and handler errors by kind.', labelNames: ['kind'], registers: r }),
    aggregatorRewards: new Counter({ name: `${PREFIX}aggregator_rewards_total`, help: 'Rewards streamed to the aggregator by outcome.', labelNames: ['outcome'], registers: r }),
    aggregatorBuffer: new Gauge({ name: `${PREFIX}aggregator_buffer`, help: 'Rewards waiting to be acked by the aggregator.', registers: r }),
    gossipRounds: new Counter({ name: `${PREFIX}gossip_rounds_total`, help: 'Gossip exchanges by outcome.', labelNames: ['outcome'], registers: r }),
    gossipDropped: new Counter({ name: `${PREFIX}gossip_dropped_total`, help: 'Slots, records and tombstones left out of a gossip message by its caps.', labelNames: ['reason'], registers: r }),
    gossipPeers: new Gauge({ name: `${PREFIX}gossip_peers`, help: 'Known gossip peers by state.', labelNames: ['state'], registers: r }),
    stateStaleness: new Gauge({ name: `${PREFIX}state_staleness_seconds`, help: 'Seconds since the peer slot last advanced.', labelNames: ['peer'], registers: r }),
    responses: new Counter({ name: `${PREFIX}responses_total`, help: 'Upstream responses by route, arm and status class (none: no valid status).', labelNames: ['route', 'arm', 'class'], registers: r }),
    guardrailValue: new Gauge({ name: `${PREFIX}guardrail_value`, help: 'Guardrail rule reading now (error rules: ratio; latency rules: seconds).', labelNames: ['route', 'arm', 'rule'], registers: r }),
    guardrailLimit: new Gauge({ name: `${PREFIX}guardrail_limit`, help: 'Guardrail rule limit now; the arm trips when the value exceeds it.', labelNames: ['route', 'arm', 'rule'], registers: r }),
    buildInfo: new Gauge({ name: `${PREFIX}build_info`, help: 'Always 1; the version of envoy-bandit and of Node.js.', labelNames: ['version', 'node'], registers: r }),
    configReloads: new Counter({ name: `${PREFIX}config_reloads_total`, help: 'Config reloads by outcome (success, failure).', labelNames: ['outcome'], registers: r }),
    configLastReload: new Gauge({ name: `${PREFIX}config_last_reload_success_timestamp_seconds`, help: 'When the config was last loaded successfully (start or reload).', registers: r }),
    configLastReloadOk: new Gauge({ name: `${PREFIX}config_last_reload_successful`, help: '1 when the last reload succeeded (or none was tried), 0 when it was rejected.', registers: r }),
    snapshotWrites: new Counter({ name: `${PREFIX}snapshot_writes_total`, help: 'State snapshot writes by outcome (ok, failed).', labelNames: ['outcome'], registers: r }),
    persistenceHealthy: persistenceGauge(registry),
    notifications: new Counter({ name: `${PREFIX}notifications_total`, help: 'Notification deliveries by target (webhook, kubernetes) and outcome (sent, failed, dropped).', labelNames: ['target', 'outcome'], registers: r }),
    bodyRewrites: new Counter({ name: `${PREFIX}body_rewrites_total`, help: 'Request bodies seen on body_rewrite routes, by outcome (rewritten, or why unchanged).', labelNames: ['route', 'arm', 'outcome'], registers: r }),
  };
  m.buildInfo.set({ version: VERSION, node: process.versions.node }, 1);
  m.configLastReloadOk.set(1);
  return m;
}

export const PERSISTENCE_HEALTH_METRIC = 'envoy_bandit_persistence_healthy';

/** 1 while a persistent write target (snapshot, decision_log) is writable, 0 while its writes fail and are retried. One per registry. */
export function persistenceGauge(registry: Registry): Gauge<'target'> {
  const existing = registry.getSingleMetric(PERSISTENCE_HEALTH_METRIC);
  if (existing) return existing as Gauge<'target'>;
  return new Gauge({ name: PERSISTENCE_HEALTH_METRIC, help: 'Whether a persistent write target is writable (1) or failing and being retried (0), by target (snapshot, decision_log).', labelNames: ['target'], registers: [registry] });
}
