import type { StickyConfig } from '../config/types.js';
import { PIN_REFRESH_FRACTION } from '../config/defaults.js';
import type { HeaderList } from '../extproc/handler.js';
import { PinCodec } from './pin.js';
import { rendezvous } from './rendezvous.js';
import { armSalt, hashSessionKey } from './session-key.js';
import { StickyTable, type StickyEntry } from './table.js';

/** What the sticky step found for one request (reused: the hot path allocates none). */
export interface StickyLookup {
  /** Session hash, 0 when the request has no usable session key. */
  session: number;
  /** Arm from an echoed, valid pin (-1 none). */
  pinnedArm: number;
  /** The echoed pin, when valid and fresh enough to send back unchanged. */
  freshPin: string | undefined;
  /** The session key was present but longer than the cap. */
  tooLong: boolean;
}

/**
 * Fleet-wide sticky sessions for one route. In order: a signed pin the client
 * echoes (valid on every replica sharing the secret); this replica's table of
 * sessions it has served (a cache); and for a session nobody pinned,
 * weighted rendezvous over the route's shares, which every replica computes
 * alike. See docs/sticky-sessions.md.
 */
export class StickySessions {
  readonly table: StickyTable;
  /** Arm name salts for rendezvous, by arm index. */
  readonly salts: Uint32Array;
  private readonly armIndex: ReadonlyMap<string, number>;
  readonly lookup: StickyLookup = { session: 0, pinnedArm: -1, freshPin: undefined, tooLong: false };

  constructor(
    readonly cfg: StickyConfig,
    readonly route: string,
    private readonly armNames: readonly string[],
    private readonly pins: PinCodec,
  ) {
    this.table = new StickyTable(cfg.max_sessions, cfg.ttl_ms);
    this.salts = Uint32Array.from(armNames, armSalt);
    this.armIndex = new Map(armNames.map((n, i) => [n, i]));
  }

  /** The raw session key of a request (header first, then cookie), or undefined. */
  keyOf(headers: HeaderList): string | undefined {
    if (this.cfg.header) {
      const v = headers.get(this.cfg.header);
      if (v) return v;
    }
    if (this.cfg.cookie) {
      const cookie = headers.get('cookie');
      if (cookie) return readCookie(cookie, this.cfg.cookie);
    }
    return undefined;
  }

  /** Fills `lookup` for a request: its session hash and the arm of a valid echoed pin. */
  read(headers: HeaderList, now: number): StickyLookup {
    const l = this.lookup;
    l.pinnedArm = -1;
    l.freshPin = undefined;
    l.tooLong = false;
    const key = this.keyOf(headers);
    l.session = key === undefined ? 0 : hashSessionKey(key);
    if (key !== undefined && l.session === 0) l.tooLong = true;
    if (l.session === 0 || this.cfg.pin_header === null) return l;
    const pin = headers.get(this.cfg.pin_header);
    if (pin === undefined) return l;
    const v = this.pins.verify(pin, this.route, l.session, now, this.cfg.ttl_ms);
    if (v === null) return l;
    const idx = this.armIndex.get(v.arm);
    if (idx === undefined) return l;
    l.pinnedArm = idx;
    if (now - v.issued < this.cfg.ttl_ms * PIN_REFRESH_FRACTION) l.freshPin = pin;
    return l;
  }

  /** This replica's remembered arm for a session, or -1. */
  get(session: number, now: number): number {
    return this.table.get(session, now);
  }

  set(session: number, arm: number, now: number): void {
    this.table.set(session, arm, now);
  }

  /** First assignment: weighted rendezvous over the shares (ineligible arms have share 0). */
  assign(session: number, shares: ArrayLike<number>): number {
    return rendezvous(session, this.salts, shares);
  }

  /** The pin to send with a response for `arm`: the echoed one when still fresh and for this arm, else a new one. */
  pinFor(session: number, arm: number, echoed: string | undefined, now: number): string {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- arm is a configured index of this route
    return echoed ?? this.pins.issue(this.route, session, this.armNames[arm]!, now);
  }

  /** Takes over a previous table (config reload): sessions keep arms that still exist, by name. */
  adopt(prev: StickySessions, now: number): void {
    const remap = prev.armNames.map((n) => this.armIndex.get(n) ?? -1);
    for (const e of prev.table.entries(now) as Iterable<StickyEntry>) {
      const a = remap[e.arm] ?? -1;
      if (a >= 0) this.table.set(e.hash, a, e.seen);
    }
  }

  size(now: number): number {
    return this.table.size(now);
  }

  clear(): void {
    this.table.clear();
  }
}

export function readCookie(header: string, name: string): string | undefined {
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq > 0 && eq < end && header.slice(start, eq).trim() === name) {
      const v = header.slice(eq + 1, end).trim();
      return v === '' ? undefined : v;
    }
    start = end + 1;
  }
  return undefined;
}
