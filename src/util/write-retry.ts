/**
 * Recovery for persistent writes (snapshots, the decision log, the aggregator's
 * reward log): after a failed write (a full disk, EIO, a read-only volume) the
 * owner retries on its own, every RETRY_MIN_MS doubling to RETRY_MAX_MS, and
 * clears the failure as soon as a write succeeds — no restart.
 */
import type { FileHandle } from 'node:fs/promises';
import { BanditError, type ErrorCode } from './errors.js';

export const WRITE_RETRY_MIN_MS = 100;
export const WRITE_RETRY_MAX_MS = 5_000;

export class WriteHealth {
  private error: Error | null = null;
  private since = 0;
  private backoff = WRITE_RETRY_MIN_MS;
  /** Times the target went from healthy to failing, and back. */
  failures = 0;
  recoveries = 0;

  constructor(
    private readonly minMs = WRITE_RETRY_MIN_MS,
    private readonly maxMs = WRITE_RETRY_MAX_MS,
  ) {}

  get failing(): Error | null {
    return this.error;
  }

  /** Records a failed write; `first` is true on the transition from healthy. `delayMs` is when to retry. */
  fail(e: Error, now: number): { first: boolean; delayMs: number } {
    const first = this.error === null;
    this.error = e;
    if (first) {
      this.failures++;
      this.since = now;
      this.backoff = this.minMs;
    } else {
      this.backoff = Math.min(this.maxMs, this.backoff * 2);
    }
    return { first, delayMs: this.backoff };
  }

  /** Records a successful write; the outage's length in ms when it ends one, else null. */
  ok(now: number): number | null {
    if (this.error === null) return null;
    this.error = null;
    this.recoveries++;
    return now - this.since;
  }

  /** What readiness reports while failing, else null. */
  describe(now: number): string | null {
    return this.error ? `writes failing for ${now - this.since} ms: ${this.error.message}` : null;
  }
}

/**
 * write(2) may write part of a buffer on a nearly full disk: loops until all
 * of `text` is written, or throws (the file system's error, or BanditError
 * `code` when a write makes no progress).
 */
export async function writeAll(fh: FileHandle, text: string, code: ErrorCode): Promise<void> {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (bytesWritten <= 0) throw new BanditError(code, 'write made no progress (EIO)', { errno: 'EIO' });
    off += bytesWritten;
  }
}
