/**
 * Authenticates a replica's reward stream with the fleet's gossip secret, in
 * two layers:
 *
 * 1. The stream: the replica opens `Rewards` with metadata
 *    `x-envoy-bandit-auth: <time>.<replica>.<mac>` (truncated HMAC-SHA256 over
 *    a domain string, the replica and the time), accepted within the gossip
 *    replay window. This only lets a stream open.
 * 2. Every batch: the aggregator answers each stream's headers with a fresh
 *    random nonce (`x-envoy-bandit-nonce`); the replica sends every batch with
 *    a MAC over the nonce, its replica, its seq and every reward's fields. The
 *    aggregator accepts a batch only with a valid MAC, for the stream's
 *    replica, and with a seq above the stream's last one. A captured stream
 *    header replayed within the window opens a stream whose nonce nobody
 *    without the secret can sign for; a captured batch is bound to the nonce
 *    of a stream that is gone (or to a seq already seen).
 *
 * Without a secret (loopback only) neither layer applies, like gossip.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { DEFAULT_MAX_SKEW_MS } from '../gossip/envelope.js';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import { macMatches, macOver } from '../util/mac.js';
import type { WireRewardBatch } from './proto.js';

export const STREAM_AUTH_HEADER = 'x-envoy-bandit-auth';
export const STREAM_NONCE_HEADER = 'x-envoy-bandit-nonce';
const DOMAIN = 'envoy-bandit/rewards/1';
const BATCH_DOMAIN = 'envoy-bandit/reward-batch/1';
const MAC_BYTES = 16;
const NONCE_BYTES = 16;

function mac(secret: Buffer, replica: string, time: number): Buffer {
  return createHmac('sha256', secret).update(`${DOMAIN}\n${replica}\n${time}`).digest().subarray(0, MAC_BYTES);
}

export function signStream(secret: Buffer, replica: string, time: number): string {
  return `${time}.${Buffer.from(replica, 'utf8').toString('base64url')}.${mac(secret, replica, time).toString('base64url')}`;
}

const refuse = (why: string) => err(new BanditError(ErrorCodes.REWARD_STREAM_AUTH, why));

/** The authenticated replica, or EB_REWARD_STREAM_AUTH saying why the value is not accepted. */
export function verifyStream(secret: Buffer, value: unknown, now: number, maxSkewMs = DEFAULT_MAX_SKEW_MS): Result<{ replica: string }> {
  if (typeof value !== 'string' || value.length > 1024) return refuse(`missing ${STREAM_AUTH_HEADER}`);
  const parts = value.split('.');
  if (parts.length !== 3) return refuse(`malformed ${STREAM_AUTH_HEADER}`);
  const time = Number(parts[0]);
  const replica = Buffer.from(parts[1]!, 'base64url').toString('utf8');
  const got = Buffer.from(parts[2]!, 'base64url');
  if (!Number.isSafeInteger(time) || replica === '') return refuse(`malformed ${STREAM_AUTH_HEADER}`);
  if (!macMatches(got, mac(secret, replica, time))) return refuse('bad signature');
  if (Math.abs(now - time) > maxSkewMs) return refuse(`signed ${now - time} ms ago, outside ±${maxSkewMs} ms`);
  return ok({ replica });
}

/** A fresh per-stream nonce (the aggregator sends it in the stream's response headers). */
export function newStreamNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64url');
}

/**
 * The batch's MAC: length-prefixed fields (util/mac.ts) so no two batches encode alike.
 * Numbers are written as JavaScript prints them; both sides see the same
 * doubles (proto `double`, and int64 fields decoded as Number).
 */
export function batchMac(secret: Buffer, nonce: string, batch: WireRewardBatch): Buffer {
  const rewards = batch.rewards ?? [];
  const parts: string[] = [BATCH_DOMAIN, nonce, batch.replica ?? '', String(Number(batch.seq ?? 0)), String(rewards.length)];
  for (const r of rewards) parts.push(r.decision_id ?? '', r.route ?? '', r.arm ?? '', String(r.reward ?? 0), r.source ?? '', String(Number(r.time_ms ?? 0)));
  return macOver(secret, parts).subarray(0, MAC_BYTES);
}

/** Why a batch was refused; the aggregator's `auth_failures_total` counts it under this `reason`. */
export type BatchAuthFailure = 'missing_mac' | 'bad_mac' | 'replica_mismatch' | 'seq_replay';

/** A refused batch: EB_REWARD_STREAM_AUTH with the reason (`reason`) and what was wrong with it (`message`). */
export class BatchRejection extends BanditError {
  constructor(
    readonly reason: BatchAuthFailure,
    message: string,
  ) {
    super(ErrorCodes.REWARD_STREAM_AUTH, message);
  }
}

/** A genuine batch's answer, shared: checking a batch allocates nothing when it passes. */
const GENUINE: Result<void, never> = ok(undefined);

/**
 * Checks one batch on an authenticated stream: its replica, its MAC, and that
 * its seq is above the stream's last accepted one. A refused batch ends its
 * stream, so the error (and its stack) is built at most once per stream.
 */
export function verifyBatch(secret: Buffer, nonce: string, replica: string, lastSeq: number, batch: WireRewardBatch): Result<void, BatchRejection> {
  if (batch.replica !== replica) return err(new BatchRejection('replica_mismatch', `stream authenticated as ${replica}, batch names ${JSON.stringify(String(batch.replica).slice(0, 64))}`));
  const got = Buffer.isBuffer(batch.mac) ? batch.mac : Buffer.alloc(0);
  if (got.length === 0) return err(new BatchRejection('missing_mac', `batch ${batch.seq} has no MAC`));
  if (!macMatches(got, batchMac(secret, nonce, batch))) return err(new BatchRejection('bad_mac', `batch ${batch.seq}: bad MAC`));
  const seq = Number(batch.seq);
  if (!(seq > lastSeq)) return err(new BatchRejection('seq_replay', `batch seq ${seq} not above the stream's last (${lastSeq}): replayed`));
  return GENUINE;
}
