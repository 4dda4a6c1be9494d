/**
 * HMAC-SHA256 over length-prefixed parts, and its constant-time check: the
 * one MAC construction of the gossip envelope (gossip/envelope.ts) and the
 * reward batch (aggregator/stream-auth.ts). Each part is written as its
 * 4-byte big-endian length and its bytes, so no part can be shifted into its
 * neighbour and no two part lists encode alike.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function macOver(secret: Buffer, parts: ReadonlyArray<Buffer | string>): Buffer {
  const h = createHmac('sha256', secret);
  const len = Buffer.alloc(4);
  for (const data of parts) {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    len.writeUInt32BE(b.length);
    h.update(len);
    h.update(b);
  }
  return h.digest();
}

/** A MAC check in constant time; an absent or short MAC fails. */
export function macMatches(got: unknown, want: Buffer): boolean {
  const mac = Buffer.isBuffer(got) ? got : Buffer.alloc(0);
  return mac.length === want.length && timingSafeEqual(mac, want);
}
