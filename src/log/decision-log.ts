import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Decision, EngineObserver, RewardEvent } from '../engine/engine.js';
import type { ComponentFactory } from '../runtime/component.js';
import { BanditError, ErrorCodes } from '../util/errors.js';

/** Lines held in memory while the disk catches up; past it new lines are dropped and counted. */
export const DECISION_LOG_MAX_BUFFERED = 50_000;
/** Lines per write. */
export const DECISION_LOG_BATCH_LINES = 1_000;
export const DECISION_LOG_FLUSH_MS = 200;
export const DECISION_LOG_METRIC = 'envoy_bandit_decision_log_lines_total';

export interface DecisionLogOptions {
  file: string;
  /** Rotate to `<file>.1` (one kept) before the file would exceed this. */
  maxBytes: number;
  replica: string;
  logger: Logger | null;
  registry?: Registry | null;
  maxBuffered?: number;
  flushMs?: number;
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
 * serialize a line into a bounded in-memory buffer; a timer writes batches to
 * a WriteStream, rotating by size. If the disk falls behind, lines are dropped
 * and counted, never queued without bound.
 */
export class DecisionLog implements EngineObserver {
  /** Every logged decision carries the chosen arm's propensity (off-policy evaluation needs it). */
  readonly propensities = true;
  private buf: string[] = [];
  private stream: WriteStream | null = null;
  private size = 0;
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private accepting = false;
  private lastErrorLog = 0;
  private readonly counter: Counter<'outcome'> | null;
  maxBytes: number;
  written = 0;
  dropped = 0;
  rotations = 0;

  constructor(private readonly opts: DecisionLogOptions) {
    this.maxBytes = opts.maxBytes;
    this.counter = opts.registry ? decisionLogLinesCounter(opts.registry) : null;
  }

  get file(): string {
    return this.opts.file;
  }
  get buffered(): number {
    return this.buf.length;
  }

  async open(): Promise<void> {
    try {
      this.size = (await stat(this.opts.file)).size;
    } catch {
      this.size = 0;
    }
    this.stream = await openStream(this.opts.file);
    this.accepting = true;
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

  /** Writes everything buffered so far; resolves when it is handed to the OS. */
  flush(): Promise<void> {
    if (this.writing) return this.writing.then(() => (this.buf.length ? this.flush() : undefined));
    if (this.buf.length === 0 || !this.stream) return Promise.resolve();
    this.writing = this.drain().finally(() => {
      this.writing = null;
    });
    return this.writing;
  }

  private async drain(): Promise<void> {
    while (this.buf.length > 0 && this.stream) {
      const lines = this.buf.splice(0, DECISION_LOG_BATCH_LINES);
      try {
        await this.writeLines(lines);
        this.written += lines.length;
        this.counter?.inc({ outcome: 'written' }, lines.length);
      } catch (err) {
        this.dropped += lines.length;
        this.counter?.inc({ outcome: 'dropped' }, lines.length);
        const now = Date.now();
        if (now - this.lastErrorLog > 10_000) {
          this.lastErrorLog = now;
          this.opts.logger?.error({ err, file: this.opts.file, lines: lines.length }, 'decision log write failed; lines dropped');
        }
        if (this.stream?.destroyed) this.stream = await openStream(this.opts.file).catch(() => null);
      }
    }
  }

  private async writeLines(lines: string[]): Promise<void> {
    let chunk = '';
    let bytes = 0;
    for (const line of lines) {
      const lb = Buffer.byteLength(line) + 1;
      if (this.size + bytes + lb > this.maxBytes && this.size + bytes > 0) {
        if (bytes > 0) {
          // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- open() made the stream; writes run only between open() and close()
          await write(this.stream!, chunk);
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
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- open() made the stream; writes run only between open() and close()
      await write(this.stream!, chunk);
      this.size += bytes;
    }
  }

  private async rotate(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- open() made the stream; writes run only between open() and close()
    await endStream(this.stream!);
    await rename(this.opts.file, `${this.opts.file}.1`);
    this.stream = await openStream(this.opts.file);
    this.size = 0;
    this.rotations++;
  }

  /** Stops taking lines, writes what is buffered, closes the file. */
  async close(): Promise<void> {
    this.accepting = false;
    clearInterval(this.timer);
    await this.flush();
    const s = this.stream;
    this.stream = null;
    if (s) await endStream(s);
  }
}

function openStream(file: string): Promise<WriteStream> {
  return new Promise((resolve, reject) => {
    const s = createWriteStream(file, { flags: 'a' });
    const onError = (e: Error) => reject(new BanditError(ErrorCodes.DECISION_LOG_WRITE, `decision log ${file}: ${e.message}`));
    s.once('error', onError);
    s.once('open', () => {
      s.off('error', onError);
      // Later errors surface through write callbacks; this keeps them from being thrown.
      s.on('error', () => {});
      resolve(s);
    });
  });
}

function write(s: WriteStream, chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

function endStream(s: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed || s.closed) return resolve();
    s.end(() => resolve());
  });
}

/** The decision log component: only when `log.decisions_file` is set. */
export const decisionLogComponent: ComponentFactory = (ctx) => {
  const file = ctx.config.log.decisions_file;
  if (!file) return null;
  const log = new DecisionLog({
    file,
    maxBytes: ctx.config.log.decisions_max_bytes,
    replica: ctx.config.replica_id,
    logger: ctx.logger,
    registry: ctx.metrics.registry,
  });
  return {
    name: 'decision-log',
    async start() {
      await log.open();
      ctx.engine.observe(log);
      ctx.logger.info({ file, max_bytes: log.maxBytes }, 'decision log open');
    },
    async stop() {
      await log.close();
      ctx.logger.info({ file, written: log.written, dropped: log.dropped }, 'decision log closed');
    },
    reconfigure(config) {
      log.maxBytes = config.log.decisions_max_bytes;
      if (config.log.decisions_file !== file) {
        ctx.logger.warn({ file, requested: config.log.decisions_file }, 'log.decisions_file cannot change on reload; restart the sidecar to apply it');
      }
    },
  };
};
