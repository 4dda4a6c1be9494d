/**
 * Exponentially weighted mean and variance (West 1979 / Finch 2009 form):
 * diff = x - mean; mean += alpha * diff; var = (1 - alpha) * (var + alpha * diff²).
 * O(1) memory; the weight of an observation k updates ago is alpha (1 - alpha)^k.
 */
export class Ewma {
  mean = 0;
  variance = 0;
  /** Updates seen (the baseline is trusted only after a few). */
  n = 0;

  constructor(readonly alpha: number) {}

  update(x: number): void {
    if (!Number.isFinite(x)) return;
    if (this.n === 0) {
      this.mean = x;
      this.variance = 0;
    } else {
      const diff = x - this.mean;
      const incr = this.alpha * diff;
      this.mean += incr;
      this.variance = (1 - this.alpha) * (this.variance + diff * incr);
    }
    this.n++;
  }

  get sd(): number {
    return Math.sqrt(Math.max(0, this.variance));
  }

  /** mean + sigmas * max(sd, minSd): the control limit. */
  limit(sigmas: number, minSd: number): number {
    return this.mean + sigmas * Math.max(this.sd, minSd);
  }

  reset(): void {
    this.mean = 0;
    this.variance = 0;
    this.n = 0;
  }
}
