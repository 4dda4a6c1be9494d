import { constants as fsConstants } from 'node:fs';
import { access, open as openFile, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Decision, EngineObserver, RewardEvent } from '../engine/engine.js';
import type { ComponentFactory } from '../runtime/component.js';
import { persistenceGauge } from '../metrics/metrics.js';
import { fileIssue, issuesError } from '../config/issues.js';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import { rotateFiles } from '../util/rotate.js';
import { WriteHealth, writeAll } from '../util/write-retry.js';

/** Lines held in memory while the disk catches up (or is failing); past it new lines are dropped and counted. */
export const DECISION_LOG_MAX_BUFFERED = 50_000;
/** Lines per write. */
export const DECISION_LOG_BATCH_LINES = 1_000;
export const DECISION_LOG_FLUSH_MS = 200;
export const DECISION_LOG_METRIC = 'envoy_bandit_decision_log_lines_total';

export interface DecisionLogOptions {
  file: string;
  /** Rotate before the file would exceed this. */
  maxBytes: number;
  /** Rotated files kept (`<file>.1` … `<file>.<keep>`). */
  keep?: number;
  replica: string;
  logger: Logger | null;
  registry?: Registry | null;
  maxBuffered?: number;
  flushMs?: number;
  /** Retry backoff after a failed write (tests shorten it). */
  retry?: { minMs: number; maxMs: number };
}

/** The line shapes (docs/decision-log.md). */
export interface DecisionLine {
  type: 'decision';
  id: string;
  time: number;
  route: string;
  arm: string;
  propensity: number | null;
  reason: string;
  replica: string;
  /** Contextual routes: the header values the route's features read (offline evaluation needs them). */
  context?: Readonly<Record<string, string>>;
}
export interface RewardLine {
  type: 'reward';
  id: string;
  time: number;
  route: string;
  arm: string;
  reward: number;
  source: string;
}

/** envoy_bandit_decision_log_lines_total on `registry` (one per registry, however many logs). */
export function decisionLogLinesCounter(registry: Registry): Counter<'outcome'> {
  const existing = registry.getSingleMetric(DECISION_LOG_METRIC);
  if (existing) return existing as Counter<'outcome'>;
  return new Counter({ name: DECISION_LOG_METRIC, help: 'Decision log lines by outcome (written, dropped).', labelNames: ['outcome'], registers: [registry] });
}

/**
 * JSONL decision + reward log for offline evaluation. The engine's hooks only
 * serialize a line into a bounded in-memory buffer; a timer writes batches,
 * rotating by size (keeping `keep` old files). A failed write (full disk, EIO)
 * keeps its lines in the buffer, cuts any partial line off the file, and
 * retries with backoff until the disk takes writes again — no restart. Lines
 * past the buffer bound are dropped and counted, never queued without bound.
 */
export class DecisionLog implements EngineObserver {
  /** Every logged decision carries the chosen arm's propensity (off-policy evaluation needs it). */
  readonly propensities = true;
  private buf: string[] = [];
  private fh: FileHandle | null = null;
  private size = 0;
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private accepting = false;
  private closed = false;
  private readonly counter: Counter<'outcome'> | null;
  private readonly gauge: Gauge<'target'> | null;
  readonly health: WriteHealth;
  maxBytes: number;
  keep: number;
  written = 0;
  dropped = 0;
  rotations = 0;

  constructor(private readonly opts: DecisionLogOptions) {
    this.maxBytes = opts.maxBytes;
    this.keep = opts.keep ?? 1;
    this.counter = opts.registry ? decisionLogLinesCounter(opts.registry) : null;
    this.gauge = opts.registry ? persistenceGauge(opts.registry) : null;
    this.health = new WriteHealth(opts.retry?.minMs, opts.retry?.maxMs);
  }

  get file(): string {
    return this.opts.file;
  }
  get buffered(): number {
    return this.buf.length;
  }

  /** Opens (creating) the file; fails when the path cannot be written at all (a config error, not a disk outage). */
  async open(): Promise<void> {
    const usable = await checkDecisionLogFile(this.opts.file);
    if (!usable.ok) throw usable.error;
    try {
      this.fh = await openFile(this.opts.file, 'a');
    } catch (e) {
      throw new BanditError(ErrorCodes.DECISION_LOG_WRITE, `cannot open ${this.opts.file} for appending: ${(e as Error).message}`);
    }
    this.size = (await this.fh.stat()).size;
    this.accepting = true;
    this.gauge?.set({ target: 'decision_log' }, 1);
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs ?? DECISION_LOG_FLUSH_MS);
    this.timer.unref();
  }

  onDecision(d: Decision): void {
    if (!this.accepting) return;
    const line: DecisionLine = {
      type: 'decision',
      id: d.id,
      time: d.time,
      route: d.route.name,
      arm: d.armName,
      propensity: d.propensity ?? null,
      reason: d.reason,
      replica: this.opts.replica,
    };
    if (d.context) line.context = d.context;
    this.push(JSON.stringify(line));
  }

  onReward(e: RewardEvent): void {
    if (!this.accepting) return;
    const line: RewardLine = { type: 'reward', id: e.decisionId, time: e.time, route: e.route, arm: e.arm, reward: e.reward, source: e.source };
    this.push(JSON.stringify(line));
  }

  private push(line: string): void {
    if (this.buf.length >= (this.opts.maxBuffered ?? DECISION_LOG_MAX_BUFFERED)) {
      this.dropped++;
      this.counter?.inc({ outcome: 'dropped' });
      return;
    }
    this.buf.push(line);
  }

  /** What readiness reports while writes fail (the sidecar stays ready: routing does not need this file). */
  degraded(now = Date.now()): string | null {
    return this.health.describe(now);
  }

  /** Writes everything buffered so far; resolves when it is handed to the OS, or when a write fails (then retried later). */
  flush(): Promise<void> {
    if (this.writing) return this.writing.then(() => (this.buf.length && !this.health.failing ? this.flush() : undefined));
    if (this.buf.length === 0 || this.health.failing || this.closed) return Promise.resolve();
    this.writing = this.drain().finally(() => {
      this.writing = null;
    });
    return this.writing;
  }

  private async drain(): Promise<void> {
    while (this.buf.length > 0) {
      const lines = this.buf.slice(0, DECISION_LOG_BATCH_LINES);
      try {
        if (!this.fh) {
          this.fh = await openFile(this.opts.file, 'a');
          this.size = (await this.fh.stat()).size;
        }
        await this.writeLines(lines);
      } catch (err) {
        await this.failed(err as Error);
        return;
      }
      this.buf.splice(0, lines.length);
      this.written += lines.length;
      this.counter?.inc({ outcome: 'written' }, lines.length);
      const downMs = this.health.ok(Date.now());
      if (downMs !== null) {
        this.gauge?.set({ target: 'decision_log' }, 1);
        this.opts.logger?.warn({ file: this.opts.file, down_ms: downMs, buffered: this.buf.length }, 'decision log writable again; buffered lines written');
      }
    }
  }

  /** Keeps the lines buffered, cuts any partial line, closes the file, and schedules a retry with backoff. */
  private async failed(err: Error): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) {
      await fh.truncate(this.size).catch(() => undefined);
      await fh.close().catch(() => undefined);
    }
    const { first, delayMs } = this.health.fail(err, Date.now());
    this.gauge?.set({ target: 'decision_log' }, 0);
    if (first) {
      this.opts.logger?.error({ err: err.message, code: (err as NodeJS.ErrnoException).code, file: this.opts.file, buffered: this.buf.length }, 'decision log write failed; keeping lines in memory (bounded, overflow dropped and counted) and retrying');
    }
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retry();
    }, delayMs);
    this.retryTimer.unref();
  }

  /** A retry: one write attempt even with nothing new buffered. */
  private retry(): void {
    if (this.closed || this.writing) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
    });
  }

  private async writeLines(lines: string[]): Promise<void> {
    let chunk = '';
    let bytes = 0;
    for (const line of lines) {
      const lb = Buffer.byteLength(line) + 1;
      if (this.size + bytes + lb > this.maxBytes && this.size + bytes > 0) {
        if (bytes > 0) {
          await writeAll(this.fh!, chunk, ErrorCodes.DECISION_LOG_WRITE);
          this.size += bytes;
          chunk = '';
          bytes = 0;
        }
        await this.rotate();
      }
      chunk += `${line}\n`;
      bytes += lb;
    }
    if (bytes > 0) {
      await writeAll(this.fh!, chunk, ErrorCodes.DECISION_LOG_WRITE);
      this.size += bytes;
    }
  }

  private async rotate(): Promise<void> {
    const fh = this.fh!;
    this.fh = null;
    await fh.close();
    await rotateFiles(this.opts.file, this.keep);
    this.fh = await openFile(this.opts.file, 'a');
    this.size = 0;
    this.rotations++;
  }

  /** Stops taking lines, writes what is buffered (one attempt), closes the file; lines it could not write are counted dropped. */
  async close(): Promise<void> {
    this.accepting = false;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    if (this.writing) await this.writing;
    if (this.buf.length > 0) {
      await (this.writing = this.drain());
      this.writing = null;
    }
    this.closed = true;
    if (this.buf.length > 0) {
      this.dropped += this.buf.length;
      this.counter?.inc({ outcome: 'dropped' }, this.buf.length);
      this.opts.logger?.error({ file: this.opts.file, lines: this.buf.length }, 'decision log closed with unwritten lines; they are lost');
      this.buf = [];
    }
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close().catch(() => undefined);
  }
}


/**
 * Whether the decision log could be opened for appending, without creating
 * it: an existing file must not be a directory and must be writable, a new
 * one needs a writable directory. `validate` and the start both ask this
 * (EB_DECISION_LOG_WRITE naming the file); the start then opens the file.
 */
export async function checkDecisionLogFile(file: string): Promise<Result<void>> {
  const fail = (why: string) => err(new BanditError(ErrorCodes.DECISION_LOG_WRITE, why));
  const writable = (p: string) => access(p, fsConstants.W_OK).then(() => true, () => false);
  const info = await stat(file).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : e));
  if (info instanceof Error) return fail(`cannot append to ${file}: ${info.message}`);
  if (info) {
    if (info.isDirectory()) return fail(`cannot append to ${file}: is a directory`);
    return (await writable(file)) ? ok(undefined) : fail(`cannot append to ${file}: not writable`);
  }
  const dir = dirname(file);
  const parent = await stat(dir).catch(() => null);
  if (!parent) return fail(`cannot create ${file}: directory ${dir} does not exist`);
  if (!parent.isDirectory()) return fail(`cannot create ${file}: ${dir} is not a directory`);
  return (await writable(dir)) ? ok(undefined) : fail(`cannot create ${file}: directory ${dir} is not writable`);
}

/** The decision log component: only when `log.decisions_file` is set. */
export const decisionLogComponent: ComponentFactory = (ctx) => {
  const file = ctx.config.log.decisions_file;
  if (!file) return null;
  const log = new DecisionLog({
    file,
    maxBytes: ctx.config.log.decisions_max_bytes,
    keep: ctx.config.log.decisions_keep,
    replica: ctx.config.replica_id,
    logger: ctx.logger,
    registry: ctx.metrics.registry,
  });
  return {
    name: 'decision-log',
    async start() {
      try {
        await log.open();
      } catch (e) {
        // At the field that names the file, as validate reports it (config/files.ts).
        throw e instanceof BanditError ? issuesError([fileIssue('log.decisions_file', e)]) : e;
      }
      ctx.engine.observe(log);
      ctx.logger.info({ file, max_bytes: log.maxBytes, keep: log.keep }, 'decision log open');
    },
    degraded: () => log.degraded(),
    async stop() {
      await log.close();
      ctx.logger.info({ file, written: log.written, dropped: log.dropped }, 'decision log closed');
    },
    reconfigure(config) {
      log.maxBytes = config.log.decisions_max_bytes;
      log.keep = config.log.decisions_keep;
      if (config.log.decisions_file !== file) {
        ctx.logger.warn({ file, requested: config.log.decisions_file }, 'log.decisions_file cannot change on reload; restart the sidecar to apply it');
      }
    },
  };
};
