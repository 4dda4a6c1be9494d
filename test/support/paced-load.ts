/** Open-loop HTTP load at a fixed rate for integration tests: each response's send time, status and x-bandit-arm. */
import { Agent, request } from 'node:http';

export interface Sample {
  sentAt: number;
  /** When the response ended (or the request failed), epoch ms. */
  doneAt: number;
  status: number;
  arm: string | undefined;
}

/** Open-loop load at a fixed rate (requests are sent on schedule whatever the latency). */
export class PacedLoad {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight = new Set<Promise<void>>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  private sent = 0;
  private t0 = 0;

  constructor(
    private readonly url: string,
    private readonly rps: number,
    private readonly maxRequests: number,
  ) {}

  start(): void {
    this.t0 = performance.now();
    this.timer = setInterval(() => {
      const due = Math.min(this.maxRequests, Math.floor(((performance.now() - this.t0) * this.rps) / 1000));
      while (this.sent < due) this.fire();
    }, 5);
  }

  private fire(): void {
    this.sent++;
    const sentAt = Date.now();
    const p = new Promise<void>((resolve) => {
      const req = request(this.url, { agent: this.agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const arm = res.headers['x-bandit-arm'];
          this.samples.push({ sentAt, doneAt: Date.now(), status: res.statusCode ?? 0, arm: Array.isArray(arm) ? arm[0] : arm });
          resolve();
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        this.samples.push({ sentAt, doneAt: Date.now(), status: 0, arm: undefined });
        resolve();
      });
      req.end();
    });
    this.inflight.add(p);
    void p.then(() => this.inflight.delete(p));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inflight]);
    this.agent.destroy();
  }

  between(from: number, to: number): Sample[] {
    return this.samples.filter((s) => s.sentAt >= from && s.sentAt < to);
  }
}

