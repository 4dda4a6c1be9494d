import { LatencyHistogram } from './histogram.js';

/** Counts of one span of traffic for one arm: requests, errors, latency histogram. */
export class Tally {
  count = 0;
  errors = 0;
  readonly latency = new LatencyHistogram();

  add(isError: boolean, latencyMs: number): void {
    this.count++;
    if (isError) this.errors++;
    this.latency.add(latencyMs);
  }

  addAll(o: Tally): void {
    this.count += o.count;
    this.errors += o.errors;
    this.latency.addAll(o.latency);
  }

  subtractAll(o: Tally): void {
    this.count -= o.count;
    this.errors -= o.errors;
    this.latency.subtractAll(o.latency);
  }

  clear(): void {
    this.count = 0;
    this.errors = 0;
    this.latency.clear();
  }

  get errorRate(): number {
    return this.count > 0 ? this.errors / this.count : Number.NaN;
  }

  get p95(): number {
    return this.latency.quantile(0.95);
  }
}
