import { LRUCache } from 'lru-cache';
import type { StickyConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';
import type { HeaderList } from '../extproc/handler.js';

/**
 * Session → arm, per route: an LRU with a TTL and a size bound. A session keeps
 * its arm across weight changes and moves only when the arm is quarantined or
 * removed (the engine checks eligibility and re-pins).
 */
export class StickySessions {
  private readonly cache: LRUCache<string, string>;

  constructor(
    private readonly cfg: StickyConfig,
    clock: Clock,
  ) {
    this.cache = new LRUCache<string, string>({
      max: cfg.max_sessions,
      ttl: cfg.ttl_ms,
      // Refresh on use: an active session stays pinned.
      updateAgeOnGet: true,
      // Read the injected clock on every check (the default caches it for 1 ms via a timer).
      ttlResolution: 0,
      perf: { now: () => clock.now() },
    });
  }

  /** The session key of a request (header first, then cookie), or undefined. */
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

  get(key: string): string | undefined {
    return this.cache.get(key);
  }

  set(key: string, arm: string): void {
    this.cache.set(key, arm);
  }

  delete(key: string): void {
    this.cache.delete(key);
  }

  get size(): number {
    return this.cache.size;
  }

  clear(): void {
    this.cache.clear();
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
