/**
 * The aggregator's append-only reward log: one JSON object per line.
 * Writes are serialized through one queue (group commit): each flush writes
 * every batch waiting at that moment in one write and, under fsync `batch`,
 * one fsync, and only then resolves their appends, so an acked batch is on
 * disk. `always` writes and fsyncs every reward on its own; `none` leaves
 * flushing to the OS (survives a process crash, not a power loss).
 *
 * A failed write (a full disk, EIO) fails its appends (nothing is acked that
 * might not be written), cuts any partial write off the end of the file, and
 * puts the log in a failed state: appends fail fast, and every backoff
 * interval (RETRY_MIN_MS doubling to RETRY_MAX_MS) the log probes the disk by
 * writing a small file beside it. When the probe succeeds the failure clears,
 * the next append writes for real, and readiness comes back — no restart.
 * Replicas keep unacked rewards in their buffers and resend them.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, stat, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { BanditError, ErrorCodes } from '../util/errors.js';
import { rotatedNames, rotateFiles } from '../util/rotate.js';
import { WRITE_RETRY_MAX_MS, WRITE_RETRY_MIN_MS, writeAll } from '../util/write-retry.js';
import type { WireReward } from './proto.js';

export type FsyncPolicy = 'always' | 'batch' | 'none';

/** Backoff between disk probes after a failed write (shared with the other persistent writers). */
export const RETRY_MIN_MS = WRITE_RETRY_MIN_MS;
export const RETRY_MAX_MS = WRITE_RETRY_MAX_MS;
/** The probe writes this many bytes to `<log>.probe` (then removes it). */
export const PROBE_BYTES = 64 * 1024;

/** Log state changes, for the owner to log and count. */
export interface RewardLogEvents {
  failed?(err: Error, rejectedLines: number): void;
  recovered?(downMs: number): void;
  rotated?(file: string): void;
}

/** Size-based rotation: before a write would take the log past `maxBytes`, it becomes `<log>.1` (… `<log>.<keep>`). */
export interface RewardLogRotation {
  maxBytes: number | null;
  keep: number;
}

/** One line of the reward log: the reward as the replica sent it, plus who sent it and when it arrived. */
export interface LogRecord extends WireReward {
  replica: string;
  received_ms: number;
}

export interface ReplayResult {
  records: number;
  /** Lines that did not parse (skipped), and whether a torn last line was cut off. */
  bad: number;
  truncatedTail: boolean;
}

interface Pending {
  lines: string[];
  resolve(): void;
  reject(e: Error): void;
}

export class RewardLog {
  private fh: FileHandle | null = null;
  private queue: Pending[] = [];
  private flushing = false;
  private failure: BanditError | null = null;
  private failedAt = 0;
  private backoff = RETRY_MIN_MS;
  private probeTimer: NodeJS.Timeout | undefined;
  /** A write failed after it may have written part of its bytes: cut back to `bytes` before the next. */
  private dirty = false;
  /** Where the group being written starts (after any rotation): a failed group is cut back to it. */
  private groupStart = 0;
  private closed = false;
  bytes = 0;
  fsyncs = 0;
  rotations = 0;
  /** Times the log failed and recovered. */
  failures = 0;
  recoveries = 0;

  constructor(
    readonly path: string,
    private readonly fsync: FsyncPolicy,
    private readonly events: RewardLogEvents = {},
    private readonly rotation: RewardLogRotation = { maxBytes: null, keep: 1 },
  ) {}

  /**
   * Reads every record already in the log (calling `onRecord` in order), cuts
   * off a torn last line, then opens the file for appending.
   */
  async open(onRecord: (r: LogRecord) => void): Promise<ReplayResult> {
    await mkdir(dirname(this.path), { recursive: true });
    const result: ReplayResult = { records: 0, bad: 0, truncatedTail: false };
    // Rotated files first, oldest first: their ids still deduplicate resends.
    for (const old of rotatedNames(this.path, this.rotation.keep)) await replayFile(old, onRecord, result);
    let size = 0;
    try {
      size = (await stat(this.path)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (size > 0) {
      const cut = await replayLines(this.path, onRecord, result, size);
      if (cut !== null) {
        // The file does not end in a newline: a write torn by a crash. It was never acked; cut it.
        result.truncatedTail = true;
        await truncate(this.path, cut);
        size = cut;
      }
    }
    this.bytes = size;
    this.fh = await open(this.path, 'a');
    return result;
  }

  /** EB_REWARD_LOG_UNAVAILABLE with the file system's error (`details.errno`) while the log cannot be written. */
  get failed(): BanditError | null {
    return this.failure;
  }

  /** Appends the lines (each without its newline); resolves once written (and synced per policy). An empty list is a barrier: it resolves after every earlier append. */
  append(lines: string[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new BanditError(ErrorCodes.REWARD_LOG_UNAVAILABLE, 'reward log is closed'));
    if (!this.fh) return Promise.reject(new BanditError(ErrorCodes.REWARD_LOG_UNAVAILABLE, 'reward log is not open'));
    return new Promise((resolve, reject) => {
      this.queue.push({ lines, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      this.groupStart = this.bytes;
      try {
        if (this.failure) throw this.failure;
        if (this.dirty) await this.cutToGood();
        await this.writeGroup(group);
        for (const p of group) p.resolve();
      } catch (e) {
        // Nothing of the group is acked, so nothing of it may stay in the file.
        this.bytes = this.groupStart;
        this.dirty = true;
        await this.cutToGood().catch(() => undefined);
        const rejected = [...group, ...this.queue];
        this.queue = [];
        this.fail(e as Error, rejected.reduce((n, p) => n + p.lines.length, 0));
        for (const p of rejected) p.reject(this.failure!);
      }
    }
    this.flushing = false;
  }

  /** Truncates the file to the bytes known written (a failed write may have left part of a line). */
  private async cutToGood(): Promise<void> {
    if (!this.fh) {
      // A rotation failed half-way: start from whatever file is at the path now.
      this.fh = await open(this.path, 'a');
      this.bytes = (await this.fh.stat()).size;
    } else {
      await this.fh.truncate(this.bytes);
    }
    this.dirty = false;
  }

  private fail(e: Error, rejectedLines: number): void {
    const first = this.failure === null;
    this.failure = new BanditError(ErrorCodes.REWARD_LOG_UNAVAILABLE, e.message, { errno: (e as NodeJS.ErrnoException).code });
    if (first) {
      this.failures++;
      this.failedAt = Date.now();
      this.backoff = RETRY_MIN_MS;
    } else {
      this.backoff = Math.min(RETRY_MAX_MS, this.backoff * 2);
    }
    this.events.failed?.(e, rejectedLines);
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => void this.probe(), this.backoff);
    this.probeTimer.unref();
  }

  /** Writes and removes a small file beside the log; on success the log takes appends again. */
  private async probe(): Promise<void> {
    if (this.failure === null || this.closed) return;
    const file = `${this.path}.probe`;
    try {
      await writeFile(file, Buffer.alloc(PROBE_BYTES));
      await unlink(file);
      if (this.dirty) await this.cutToGood();
    } catch {
      await unlink(file).catch(() => undefined);
      this.backoff = Math.min(RETRY_MAX_MS, this.backoff * 2);
      this.scheduleProbe();
      return;
    }
    const downMs = Date.now() - this.failedAt;
    this.failure = null;
    this.recoveries++;
    this.events.recovered?.(downMs);
  }

  /** Rotates when `bytes` more would take the file past the limit (never an empty file). */
  private async maybeRotate(bytes: number): Promise<void> {
    const max = this.rotation.maxBytes;
    if (max === null || this.bytes === 0 || this.bytes + bytes <= max) return;
    const fh = this.fh!;
    await fh.sync();
    await fh.close();
    this.fh = null;
    try {
      await rotateFiles(this.path, this.rotation.keep);
    } finally {
      // Reopen whatever is at the path now (a fresh file after a rotation), so a failed rotation is retried later.
      this.fh = await open(this.path, 'a');
      this.bytes = (await this.fh.stat()).size;
      this.groupStart = this.bytes;
    }
    this.rotations++;
    this.events.rotated?.(`${this.path}.1`);
  }

  private async writeGroup(group: Pending[]): Promise<void> {
    let total = 0;
    for (const p of group) for (const line of p.lines) total += Buffer.byteLength(line) + 1;
    if (total > 0) await this.maybeRotate(total);
    if (this.dirty || !this.fh) await this.cutToGood();
    const fh = this.fh!;
    if (this.fsync === 'always') {
      for (const p of group) {
        for (const line of p.lines) {
          const text = `${line}\n`;
          await writeAll(fh, text, ErrorCodes.REWARD_LOG_UNAVAILABLE);
          await fh.datasync();
          this.fsyncs++;
          this.bytes += Buffer.byteLength(text);
        }
      }
      return;
    }
    let text = '';
    for (const p of group) for (const line of p.lines) text += `${line}\n`;
    if (text === '') return;
    await writeAll(fh, text, ErrorCodes.REWARD_LOG_UNAVAILABLE);
    this.bytes += Buffer.byteLength(text);
    if (this.fsync === 'batch') {
      await fh.datasync();
      this.fsyncs++;
    }
  }

  /** Waits for queued appends, syncs, closes. */
  async close(): Promise<void> {
    if (this.fh) await this.append([]).catch(() => undefined);
    this.closed = true;
    clearTimeout(this.probeTimer);
    if (!this.fh) return;
    const fh = this.fh;
    this.fh = null;
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}


/** Replays a rotated (complete, read-only) log file; a missing one is skipped. */
async function replayFile(path: string, onRecord: (r: LogRecord) => void, result: ReplayResult): Promise<void> {
  try {
    await stat(path);
  } catch {
    return;
  }
  await replayLines(path, onRecord, result);
}

/**
 * Replays every line of a log file in order: a record is counted and handed
 * on, a line that is not one is counted bad, an empty line is skipped. When
 * the lines come to more than `size` bytes (each with its newline) the last
 * one had no newline: a write torn by a crash, never acked. That line is
 * neither counted nor handed on — were it a whole record, its resend would
 * be taken for a duplicate — and the answer is the length to cut the file
 * to; otherwise null.
 */
async function replayLines(path: string, onRecord: (r: LogRecord) => void, result: ReplayResult, size = Infinity): Promise<number | null> {
  let bytes = 0;
  let held: string | null = null;
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) {
    if (held !== null) replayLine(held, onRecord, result);
    held = line;
    bytes += Buffer.byteLength(line) + 1;
  }
  if (held === null) return null;
  if (bytes > size) return bytes - Buffer.byteLength(held) - 1;
  replayLine(held, onRecord, result);
  return null;
}

function replayLine(line: string, onRecord: (r: LogRecord) => void, result: ReplayResult): void {
  if (line === '') return;
  const r = parseRecord(line);
  if (r) {
    result.records++;
    onRecord(r);
  } else {
    result.bad++;
  }
}

function parseRecord(line: string): LogRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  const r = v as Partial<LogRecord> | null;
  if (!r || typeof r.decision_id !== 'string' || typeof r.route !== 'string' || typeof r.arm !== 'string' || typeof r.reward !== 'number') return null;
  if (typeof r.received_ms !== 'number') return null;
  return r as LogRecord;
}
