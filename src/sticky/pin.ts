/**
 * Signed, stateless session pins: `1~<arm>~<issued, base36 s>~<mac>`, where the
 * MAC is a truncated HMAC-SHA256 over the route, the session hash, the arm and
 * the issue time under a key derived from the fleet's decision-id secret. The
 * sidecar sends one in a response header; a client that echoes it gets the
 * same arm on any replica that shares the secret, across restarts and weight
 * changes. A pin bound to another session or route, expired, or forged fails
 * verification and is ignored (the request is decided as if it had none).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const VERSION = '1';
const SEP = '~';
const MAC_BYTES = 12;
/** Longest pin accepted (an arm name is at most 63 characters). */
export const MAX_PIN_LENGTH = 128;
/** A pin issued this far in the future (clock skew between replicas) is still accepted. */
export const PIN_CLOCK_SKEW_MS = 60_000;
const DOMAIN = 'envoy-bandit sticky pin v1';

export interface VerifiedPin {
  arm: string;
  /** Epoch ms (second resolution). */
  issued: number;
}

export class PinCodec {
  private readonly key: Buffer;

  /** `secret` is the fleet's decision-id key; pins use a key derived from it. */
  constructor(secret: Buffer) {
    this.key = createHmac('sha256', secret).update(DOMAIN).digest();
  }

  private mac(route: string, session: number, arm: string, issuedS: string): Buffer {
    return createHmac('sha256', this.key).update(`${route}\u001f${session}\u001f${arm}\u001f${issuedS}`).digest().subarray(0, MAC_BYTES);
  }

  issue(route: string, session: number, arm: string, now: number): string {
    const issuedS = Math.floor(now / 1000).toString(36);
    return `${VERSION}${SEP}${arm}${SEP}${issuedS}${SEP}${this.mac(route, session, arm, issuedS).toString('base64url')}`;
  }

  /** The pin's arm and issue time, or null when it is malformed, forged, for another session or route, or older than `ttlMs`. */
  verify(pin: string, route: string, session: number, now: number, ttlMs: number): VerifiedPin | null {
    if (pin.length > MAX_PIN_LENGTH) return null;
    const parts = pin.split(SEP);
    if (parts.length !== 4 || parts[0] !== VERSION) return null;
    const [, arm, issuedS, macS] = parts as [string, string, string, string];
    if (arm === '' || !/^[0-9a-z]{1,10}$/.test(issuedS)) return null;
    const got = Buffer.from(macS, 'base64url');
    if (got.length !== MAC_BYTES || !timingSafeEqual(got, this.mac(route, session, arm, issuedS))) return null;
    const issued = parseInt(issuedS, 36) * 1000;
    if (issued > now + PIN_CLOCK_SKEW_MS || now - issued > ttlMs) return null;
    return { arm, issued };
  }
}
