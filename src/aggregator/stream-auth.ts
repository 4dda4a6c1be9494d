/**
 * Authenticates a replica's reward stream with the fleet's gossip secret: the
 * replica opens `Rewards` with metadata `x-envoy-bandit-auth: <time>.<replica>.<mac>`
 * (MAC = truncated HMAC-SHA256 over a domain string, the replica and the time);
 * the aggregator accepts the stream only within the gossip replay window and
 * then only batches that name the same replica. Without a secret (loopback
 * only) streams are not authenticated, like gossip.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DEFAULT_MAX_SKEW_MS } from '../gossip/message.js';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';

export const STREAM_AUTH_HEADER = 'x-envoy-bandit-auth';
const DOMAIN = 'envoy-bandit/rewards/1';
const MAC_BYTES = 16;

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
  if (got.length !== MAC_BYTES || !timingSafeEqual(got, mac(secret, replica, time))) return refuse('bad signature');
  if (Math.abs(now - time) > maxSkewMs) return refuse(`signed ${now - time} ms ago, outside ±${maxSkewMs} ms`);
  return ok({ replica });
}
