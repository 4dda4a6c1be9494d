import { Counter, Gauge, type Registry } from 'prom-client';

/** The aggregator's own series, beside the shared registry (metrics/metrics.ts). */
export interface AggregatorMetrics {
  ingested: Counter<'outcome'>;
  authFailures: Counter<'reason'>;
  streams: Gauge;
  logBytes: Gauge;
}

export function createAggregatorMetrics(registry: Registry): AggregatorMetrics {
  const registers = [registry];
  return {
    ingested: new Counter({ name: 'envoy_bandit_aggregator_ingested_total', help: 'Rewards received by the aggregator by outcome.', labelNames: ['outcome'], registers }),
    authFailures: new Counter({
      name: 'envoy_bandit_aggregator_auth_failures_total',
      help: 'Reward streams and batches refused as not authentic, by reason (stream_header, missing_mac, bad_mac, replica_mismatch, seq_replay).',
      labelNames: ['reason'],
      registers,
    }),
    streams: new Gauge({ name: 'envoy_bandit_aggregator_streams', help: 'Open reward streams from replicas.', registers }),
    logBytes: new Gauge({ name: 'envoy_bandit_aggregator_log_bytes', help: 'Size of the reward log.', registers }),
  };
}
