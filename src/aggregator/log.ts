/**
 * The aggregator's append-only reward log: one JSON object per line.
 * Writes are serialized through one queue (group commit): each flush writes
 * every batch waiting at that moment in one write and, under fsync `batch`,
 * one fsync, and only then resolves their appends, so an acked batch is on
 * disk. `always` writes and fsyncs every reward on its own; `none` leaves
 * flushing to the OS (survives a process crash, not a power loss). A failed
 * write poisons the log: every later append fails until restart, so nothing
 * is acked that might not be written.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, stat, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { WireReward } from '../gossip/proto.js';

export type FsyncPolicy = 'always' | 'batch' | 'none';

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
  private failure: Error | null = null;
  bytes = 0;
  fsyncs = 0;

  constructor(
    readonly path: string,
    private readonly fsync: FsyncPolicy,
  ) {}

  /**
   * Reads every record already in the log (calling `onRecord` in order), cuts
   * off a torn last line, then opens the file for appending.
   */
  async open(onRecord: (r: LogRecord) => void): Promise<ReplayResult> {
    await mkdir(dirname(this.path), { recursive: true });
    const result: ReplayResult = { records: 0, bad: 0, truncatedTail: false };
    let size = 0;
    try {
      size = (await stat(this.path)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (size > 0) {
      let goodBytes = 0;
      let lastLine = '';
      const rl = createInterface({ input: createReadStream(this.path, { encoding: 'utf8' }), crlfDelay: Infinity });
      for await (const line of rl) {
        lastLine = line;
        goodBytes += Buffer.byteLength(line) + 1;
        if (line === '') continue;
        const r = parseRecord(line);
        if (r) {
          result.records++;
          onRecord(r);
        } else {
          result.bad++;
        }
      }
      if (goodBytes > size) {
        // The file does not end in a newline: a write torn by a crash. It was never acked; cut it.
        goodBytes -= Buffer.byteLength(lastLine) + 1;
        if (parseRecord(lastLine)) result.records--;
        else result.bad--;
        result.truncatedTail = true;
        await truncate(this.path, goodBytes);
        size = goodBytes;
      }
    }
    this.bytes = size;
    this.fh = await open(this.path, 'a');
    return result;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Appends the lines (each without its newline); resolves once written (and synced per policy). An empty list is a barrier: it resolves after every earlier append. */
  append(lines: string[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.fh) return Promise.reject(new Error('reward log is not open'));
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
      try {
        await this.writeGroup(group);
        for (const p of group) p.resolve();
      } catch (e) {
        this.failure = e as Error;
        for (const p of [...group, ...this.queue]) p.reject(this.failure);
        this.queue = [];
      }
    }
    this.flushing = false;
  }

  private async writeGroup(group: Pending[]): Promise<void> {
    const fh = this.fh!;
    if (this.fsync === 'always') {
      for (const p of group) {
        for (const line of p.lines) {
          const text = `${line}\n`;
          await fh.write(text);
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
    await fh.write(text);
    this.bytes += Buffer.byteLength(text);
    if (this.fsync === 'batch') {
      await fh.datasync();
      this.fsyncs++;
    }
  }

  /** Waits for queued appends, syncs, closes. */
  async close(): Promise<void> {
    if (!this.fh) return;
    await this.append([]).catch(() => undefined);
    const fh = this.fh;
    this.fh = null;
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
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
