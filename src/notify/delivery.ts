/**
 * Delivery to one target (a webhook, the Kubernetes API): a bounded queue
 * (the oldest notice is dropped, and counted, when it is full), one request in
 * flight, a timeout per attempt, and retries with exponential backoff for
 * network errors, timeouts, 429 and 5xx. Nothing here runs on the request
 * path: `enqueue` is an array push, sending happens on later ticks.
 */
import type { Logger } from 'pino';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import type { Notice } from './events.js';

export type TargetKind = 'webhook' | 'kubernetes';

/**
 * A failed attempt: EB_NOTIFY_REFUSED (the target answered, not with 2xx) or
 * EB_NOTIFY_UNREACHABLE (no answer: a network error or the timeout), and
 * whether trying again may help (`retry`).
 */
export class SendFailure extends BanditError {
  constructor(
    code: typeof ErrorCodes.NOTIFY_REFUSED | typeof ErrorCodes.NOTIFY_UNREACHABLE,
    message: string,
    readonly retry: boolean,
  ) {
    super(code, message);
  }
}

/** An attempt's result: delivered, or the failure. */
export type SendResult = Result<void, SendFailure>;
/** The one delivered answer (no allocation per notice). */
export const SENT: SendResult = ok(undefined);

export interface Target {
  readonly kind: TargetKind;
  /** For logs: the URL without credentials, or `kubernetes`. */
  readonly name: string;
  wants(n: Notice): boolean;
  send(n: Notice, signal: AbortSignal): Promise<SendResult>;
}

export interface DeliveryOptions {
  queue: number;
  retries: number;
  timeoutMs: number;
  /** First retry delay; doubles per attempt. */
  backoffMs: number;
  logger: Logger;
  count: (target: TargetKind, outcome: 'sent' | 'failed' | 'dropped') => void;
}

export class Delivery {
  private readonly pending: Notice[] = [];
  private running = false;
  private stopped = false;
  private readonly inflight = new AbortController();
  private idle: Promise<void> = Promise.resolve();

  constructor(
    readonly target: Target,
    private readonly o: DeliveryOptions,
  ) {}

  get queued(): number {
    return this.pending.length;
  }

  enqueue(n: Notice): void {
    if (this.stopped || !this.target.wants(n)) return;
    if (this.pending.length >= this.o.queue) {
      const dropped = this.pending.shift();
      if (dropped) {
        this.o.count(this.target.kind, 'dropped');
        this.o.logger.warn({ target: this.target.name, dropped: dropped.id, queue: this.o.queue }, 'notification queue full; dropped the oldest');
      }
    }
    this.pending.push(n);
    if (!this.running) {
      this.running = true;
      this.idle = new Promise<void>((resolve) => setImmediate(() => void this.pump().finally(resolve)));
    }
  }

  private async pump(): Promise<void> {
    try {
      while (!this.stopped) {
        const n = this.pending.shift();
        if (n === undefined) break;
        await this.deliver(n);
      }
    } finally {
      this.running = false;
    }
  }

  private async deliver(n: Notice): Promise<void> {
    let last: SendFailure | null = null;
    for (let attempt = 0; attempt <= this.o.retries && !this.stopped; attempt++) {
      if (attempt > 0) await sleep(this.o.backoffMs * 2 ** (attempt - 1), this.inflight.signal);
      if (this.stopped) break;
      const signal = AbortSignal.any([this.inflight.signal, AbortSignal.timeout(this.o.timeoutMs)]);
      let r: SendResult;
      try {
        r = await this.target.send(n, signal);
      } catch (e) {
        r = err(new SendFailure(ErrorCodes.NOTIFY_UNREACHABLE, signal.aborted ? `timed out after ${this.o.timeoutMs} ms` : (e as Error).message, true));
      }
      if (r.ok) {
        this.o.count(this.target.kind, 'sent');
        return;
      }
      last = r.error;
      if (!r.error.retry) break;
    }
    this.o.count(this.target.kind, 'failed');
    this.o.logger.warn({ target: this.target.name, event: n.event.kind, id: n.id, error: last?.message ?? '', code: last?.code }, 'notification not delivered');
  }

  /** Gives in-flight and queued notices until `graceMs`, then abandons the rest. */
  async stop(graceMs: number): Promise<void> {
    const timer = setTimeout(() => {
      this.stopped = true;
      this.inflight.abort();
    }, graceMs);
    timer.unref();
    await this.idle;
    clearTimeout(timer);
    this.stopped = true;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    t.unref();
    function done() {
      signal.removeEventListener('abort', done);
      clearTimeout(t);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Retry 429 and 5xx; any other non-2xx is final. */
export function httpResult(status: number, what: string): SendResult {
  if (status >= 200 && status < 300) return SENT;
  return err(new SendFailure(ErrorCodes.NOTIFY_REFUSED, `${what} answered ${status}`, status === 429 || status >= 500));
}
