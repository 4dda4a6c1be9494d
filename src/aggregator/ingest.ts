import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../util/clock.js';
import { ErrorCodes } from '../util/errors.js';
import type { AggregatorMetrics } from './metrics.js';
import { dedupeKey, type DedupeIndex } from './dedupe.js';
import type { LogRecord, RewardLog } from './log.js';
import type { WireReward, WireRewardAck, WireRewardBatch } from './proto.js';
import type { SummaryCounts } from './summary.js';

const MAX_ID_LENGTH = 512;
const MAX_NAME_LENGTH = 256;

/** A batch the aggregator did not accept, with the gRPC status its stream ends with. */
export type IngestError = Error & { grpcCode: grpc.status };

function ingestError(message: string, grpcCode: grpc.status): IngestError {
  return Object.assign(new Error(message), { grpcCode });
}

export interface IngestDeps {
  log: RewardLog;
  dedupe: DedupeIndex;
  counts: SummaryCounts;
  metrics: AggregatorMetrics;
  clock: Clock;
}

/**
 * One reward batch: dedupe by decision identity (issuing replica, sequence),
 * append the new rewards to the log (durably, per the fsync policy), count
 * them; resolves with the batch's ack only once it is written.
 */
export async function ingestBatch(d: IngestDeps, batch: WireRewardBatch): Promise<WireRewardAck> {
  if (typeof batch.replica !== 'string' || batch.replica === '' || batch.replica.length > MAX_NAME_LENGTH) {
    throw ingestError(`${ErrorCodes.AGGREGATOR_INVALID}: RewardBatch.replica is required (1..${MAX_NAME_LENGTH} characters)`, grpc.status.INVALID_ARGUMENT);
  }
  if (d.log.failed) throw ingestError(`${ErrorCodes.AGGREGATOR_UNAVAILABLE}: reward log not writable (${d.log.failed.message}); retry later`, grpc.status.UNAVAILABLE);
  const received = d.clock.now();
  const lines: string[] = [];
  const keys: string[] = [];
  const records: LogRecord[] = [];
  let duplicates = 0;
  let invalid = 0;
  for (const r of batch.rewards ?? []) {
    const key = validReward(r) ? dedupeKey(r.decision_id) : null;
    if (key === null) {
      invalid++;
      continue;
    }
    if (d.dedupe.has(key)) {
      duplicates++;
      continue;
    }
    d.dedupe.add(key, received);
    keys.push(key);
    const rec: LogRecord = { decision_id: r.decision_id, route: r.route, arm: r.arm, reward: r.reward, source: r.source, time_ms: r.time_ms, replica: batch.replica, received_ms: received };
    records.push(rec);
    lines.push(JSON.stringify(rec));
  }
  // Even a batch of duplicates waits for the writes before it: its originals may still be in flight.
  try {
    await d.log.append(lines);
  } catch (e) {
    // Not written, not acked: the replica resends, and the resend must be logged, not called a duplicate.
    for (const k of keys) d.dedupe.delete(k);
    throw ingestError(`${ErrorCodes.AGGREGATOR_UNAVAILABLE}: reward log write failed: ${(e as Error).message}`, grpc.status.UNAVAILABLE);
  }
  for (const rec of records) d.counts.count(rec);
  d.counts.duplicates += duplicates;
  d.counts.invalid += invalid;
  if (records.length) d.metrics.ingested.inc({ outcome: 'accepted' }, records.length);
  if (duplicates) d.metrics.ingested.inc({ outcome: 'duplicate' }, duplicates);
  if (invalid) d.metrics.ingested.inc({ outcome: 'invalid' }, invalid);
  d.metrics.logBytes.set(d.log.bytes);
  return { seq: batch.seq, accepted: records.length, duplicates };
}

function validReward(r: WireReward | undefined): r is WireReward {
  return (
    !!r &&
    typeof r.decision_id === 'string' &&
    r.decision_id !== '' &&
    r.decision_id.length <= MAX_ID_LENGTH &&
    typeof r.route === 'string' &&
    r.route !== '' &&
    r.route.length <= MAX_NAME_LENGTH &&
    typeof r.arm === 'string' &&
    r.arm !== '' &&
    r.arm.length <= MAX_NAME_LENGTH &&
    typeof r.reward === 'number' &&
    r.reward >= 0 &&
    r.reward <= 1
  );
}
