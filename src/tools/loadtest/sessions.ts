/**
 * A bounded pool of client sessions with churn: each request picks a session
 * at random; with probability `churn` that slot's session ends and a new one
 * takes its place, so new sessions keep arriving while old ones return.
 */
import { createRng, type Rng } from '../../util/rng.js';

export class SessionPool {
  private readonly generation: Uint32Array;
  private readonly rng: Rng;

  constructor(
    readonly size: number,
    private readonly churn: number,
    seed: number,
    private readonly prefix = 'lt',
  ) {
    this.generation = new Uint32Array(size);
    this.rng = createRng(seed);
  }

  /** The session id for the next request, or null when the pool is empty (no sessions). */
  next(): string | null {
    if (this.size === 0) return null;
    const i = Math.floor(this.rng.next() * this.size);
    if (this.churn > 0 && this.rng.next() < this.churn) this.generation[i]!++;
    return `${this.prefix}-${i}-${this.generation[i]}`;
  }
}
