import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the request path, read at scrape time.
 * prom-client hashes the label object on every `inc`/`observe` (a sorted key
 * string and a map lookup — ~20 % of a decision's CPU in a profile); these
 * hand out a per-label-set handle once, and the hot path adds to a number.
 * Both implement prom-client's collector interface (`get()`), like SumCount.
 */
type Values = Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;

/** The map key of one label set, in `names` order (also SumCount's). */
export function labelKey<L extends string>(names: readonly L[], labels: Record<L, string>): string {
  let key = '';
  for (const l of names) key += `${labels[l]}\u0000`;
  return key;
}

export interface CounterHandle {
  value: number;
}

/**
 * What every handle-based collector shares (FastCounter, FastHistogram,
 * SumCount): prom-client registration, one series per label set keyed by
 * labelKey, handed out once as a handle the hot path keeps.
 */
export abstract class HandleCollector<L extends string, H> {
  private readonly series = new Map<string, { labels: Record<L, string>; h: H }>();
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = 'sum' as const;

  constructor(opts: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] }) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    for (const r of opts.registers) r.registerMetric(this as never);
  }

  /** A fresh, empty series. */
  protected abstract newSeries(): H;

  /** The series for `labels` (created empty on first use); keep it and update it directly. */
  handle(labels: Record<L, string>): H {
    const key = labelKey(this.labelNames, labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: { ...labels }, h: this.newSeries() }));
    return s.h;
  }

  reset(): void {
    this.series.clear();
  }

  /** Every series with its labels, for `get()` at scrape time. */
  protected entries(): IterableIterator<{ labels: Record<L, string>; h: H }> {
    return this.series.values();
  }
}

export class FastCounter<L extends string> extends HandleCollector<L, CounterHandle> {
  protected newSeries(): CounterHandle {
    return { value: 0 };
  }

  inc(labels: Record<L, string>, by = 1): void {
    this.handle(labels).value += by;
  }

  get(): { name: string; help: string; type: 'counter'; aggregator: 'sum'; values: Values } {
    const values: Values = [];
    for (const s of this.entries()) values.push({ labels: s.labels, value: s.h.value });
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values };
  }
}

export interface HistogramHandle {
  observe(v: number): void;
}

class HistogramSeries implements HistogramHandle {
  /** Non-cumulative counts per bucket; the last is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class FastHistogram<L extends string> extends HandleCollector<L, HistogramSeries> {
  readonly buckets: readonly number[];

  constructor(opts: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registers: Registry[] }) {
    super(opts);
    this.buckets = [...opts.buckets].sort((a, b) => a - b);
  }

  protected newSeries(): HistogramSeries {
    return new HistogramSeries(this.buckets);
  }

  observe(labels: Record<L, string>, v: number): void {
    this.handle(labels).observe(v);
  }

  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Values } {
    const values: Values = [];
    for (const { labels, h } of this.entries()) {
      let cum = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cum += h.counts[i]!;
        values.push({ labels: { ...labels, le: i < this.buckets.length ? this.buckets[i]! : '+Inf' }, value: cum, metricName: `${this.name}_bucket` });
      }
      values.push({ labels, value: h.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: h.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}
