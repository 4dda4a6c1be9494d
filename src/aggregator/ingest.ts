import type { Clock } from '../util/clock.js';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import type { AggregatorMetrics } from './metrics.js';
import { dedupeKey, type DedupeIndex } from './dedupe.js';
import type { LogRecord, RewardLog } from './log.js';
import type { WireReward, WireRewardAck, WireRewardBatch } from './proto.js';
import type { SummaryCounts } from './summary.js';

const MAX_ID_LENGTH = 512;
const MAX_NAME_LENGTH = 256;

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
 * them; resolves with the batch's ack only once it is written, or with the
 * coded reason it was not accepted: EB_REWARD_BATCH_INVALID (the stream ends
 * INVALID_ARGUMENT) or EB_REWARD_LOG_UNAVAILABLE (UNAVAILABLE: resend later).
 */
export async function ingestBatch(d: IngestDeps, batch: WireRewardBatch): Promise<Result<WireRewardAck>> {
  if (typeof batch.replica !== 'string' || batch.replica === '' || batch.replica.length > MAX_NAME_LENGTH) {
    return err(new BanditError(ErrorCodes.REWARD_BATCH_INVALID, 'RewardBatch.replica is required'));
  }
  if (d.log.failed) return err(new BanditError(ErrorCodes.REWARD_LOG_UNAVAILABLE, `reward log not writable (${d.log.failed.message}); retry later`));
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
    return err(new BanditError(ErrorCodes.REWARD_LOG_UNAVAILABLE, `reward log write failed: ${(e as Error).message}`));
  }
  for (const rec of records) d.counts.count(rec);
  d.counts.duplicates += duplicates;
  d.counts.invalid += invalid;
  if (records.length) d.metrics.ingested.inc({ outcome: 'accepted' }, records.length);
  if (duplicates) d.metrics.ingested.inc({ outcome: 'duplicate' }, duplicates);
  if (invalid) d.metrics.ingested.inc({ outcome: 'invalid' }, invalid);
  d.metrics.logBytes.set(d.log.bytes);
  return ok({ seq: batch.seq, accepted: records.length, duplicates });
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
