/**
 * The aggregator's protocol: proto/envoy_bandit/v1/aggregator.proto — the
 * reward stream (batches and acks) and GetSnapshot, which answers with a
 * gossip message (the proto imports gossip.proto).
 */
import { loadService, type LoadedService } from '../util/grpc.js';

export const AGGREGATOR_PROTO = 'envoy_bandit/v1/aggregator.proto';

export interface WireReward {
  decision_id: string;
  route: string;
  arm: string;
  reward: number;
  source: string;
  time_ms: number;
}

export interface WireRewardBatch {
  replica: string;
  seq: number;
  rewards: WireReward[];
  /** Per-batch MAC (stream-auth.ts); absent or empty without a fleet secret. */
  mac?: Buffer;
}

export interface WireRewardAck {
  seq: number;
  accepted: number;
  duplicates: number;
}

let cached: LoadedService | undefined;

/** The Aggregator service definition and client constructor (loaded once). */
export function aggregatorProto(): LoadedService {
  return (cached ??= loadService(AGGREGATOR_PROTO, 'envoy_bandit.v1.Aggregator'));
}
