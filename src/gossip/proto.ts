/** The gossip protocol: proto/envoy_bandit/v1/gossip.proto, its service and its message. */
import { loadService, type LoadedService } from '../util/grpc.js';

export const GOSSIP_PROTO = 'envoy_bandit/v1/gossip.proto';

export interface WireGossipMessage {
  sender: string;
  time_ms: number;
  snapshot: Buffer;
  mac: Buffer;
  kind: string;
}

let cached: LoadedService | undefined;

/** The Gossip service definition and client constructor (loaded once). */
export function gossipProto(): LoadedService {
  return (cached ??= loadService(GOSSIP_PROTO, 'envoy_bandit.v1.Gossip'));
}
