import { HandleCollector } from './fast-metrics.js';

/**
 * A summary without quantiles: exposes `<name>_sum` and `<name>_count` per
 * label set. The contract names the reward total `envoy_bandit_reward_sum`,
 * and Prometheus' lint accepts a `_sum` series only from a summary or
 * histogram; prom-client's Summary would also feed a t-digest on every
 * observation (~6 µs), which this skips (one map lookup and two additions).
 */
export class SumCount<L extends string> extends HandleCollector<L, { sum: number; count: number }> {
  protected newSeries(): { sum: number; count: number } {
    return { sum: 0, count: 0 };
  }

  observe(labels: Record<L, string>, value: number): void {
    const s = this.handle(labels);
    s.sum += value;
    s.count += 1;
  }

  /** prom-client's collector interface. */
  get(): { name: string; help: string; type: 'summary'; aggregator: 'sum'; values: Array<{ labels: Record<string, string>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string>; value: number; metricName: string }> = [];
    for (const { labels, h } of this.entries()) {
      values.push({ labels, value: h.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: h.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'summary', aggregator: 'sum', values };
  }
}
