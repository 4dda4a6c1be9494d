import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Decision ids: `<payload>.<signature>`, both base64url. The payload carries
 * the route, arm, time and the issuing replica plus a per-process sequence
 * (unique across replicas because replica ids are); the signature is a
 * truncated HMAC-SHA256 over it, so feedback cannot be forged or attributed to
 * another arm. Replicas that share the key accept each other's ids.
 */
export interface DecisionIdFields {
  route: string;
  arm: string;
  /** Epoch ms of the decision. */
  time: number;
  replica: string;
  seq: number;
}

const SIG_BYTES = 16;
const SEP = '\u001f';

export class DecisionIdCodec {
  private seq = 0;
  private readonly prefixCache = new Map<string, string>();

  constructor(
    private readonly key: Buffer,
    private readonly replica: string,
  ) {}

  static generateKey(): Buffer {
    return randomBytes(32);
  }

  issue(route: string, arm: string, time: number): string {
    const seq = ++this.seq;
    const cacheKey = route + SEP + arm;
    let prefix = this.prefixCache.get(cacheKey);
    if (prefix === undefined) {
      prefix = `1${SEP}${route}${SEP}${arm}${SEP}${this.replica}${SEP}`;
      this.prefixCache.set(cacheKey, prefix);
    }
    const payload = Buffer.from(`${prefix}${time.toString(36)}${SEP}${seq.toString(36)}`, 'utf8');
    return `${payload.toString('base64url')}.${this.sign(payload).toString('base64url')}`;
  }

  /** The fields of a genuine id, or a reason it is not one. */
  verify(id: string): DecisionIdFields | { invalid: string } {
    if (typeof id !== 'string' || id.length > 1024) return { invalid: 'malformed' };
    const dot = id.indexOf('.');
    if (dot <= 0) return { invalid: 'malformed' };
    const payload = Buffer.from(id.slice(0, dot), 'base64url');
    const sig = Buffer.from(id.slice(dot + 1), 'base64url');
    if (sig.length !== SIG_BYTES || !timingSafeEqual(sig, this.sign(payload))) return { invalid: 'bad signature' };
    const parts = payload.toString('utf8').split(SEP);
    if (parts.length !== 6 || parts[0] !== '1') return { invalid: 'malformed' };
    const [, route, arm, replica, t, s] = parts as [string, string, string, string, string, string];
    const time = parseInt(t, 36);
    const seq = parseInt(s, 36);
    if (!Number.isFinite(time) || !Number.isFinite(seq)) return { invalid: 'malformed' };
    return { route, arm, replica, time, seq };
  }

  private sign(payload: Buffer): Buffer {
    return createHmac('sha256', this.key).update(payload).digest().subarray(0, SIG_BYTES);
  }
}
