import type { Rng } from '../util/rng.js';
import { uniformPosition } from './sampling.js';

/**
 * Argmax with exact ties split uniformly at random, over scores the caller
 * wrote into a reusable buffer. NaN scores count as -Infinity, so any input
 * yields a valid position and a distribution that sums to 1.
 */
export function argmaxRandomTie(scores: Float64Array, k: number, rng: Rng): number {
  const best = maxScore(scores, k);
  let ties = 0;
  for (let i = 0; i < k; i++) if (scoreAt(scores, i) === best) ties++;
  if (ties <= 1) return firstAt(scores, k, best);
  let r = uniformPosition(rng, ties);
  for (let i = 0; i < k; i++) {
    if (scoreAt(scores, i) === best) {
      if (r === 0) return i;
      r--;
    }
  }
  return 0; // unreachable: r < ties
}

/** out[i] = 1/ties for the maximal positions, 0 elsewhere, scaled by `mass`, added to out. */
export function addArgmaxShare(scores: Float64Array, k: number, mass: number, out: Float64Array): void {
  const best = maxScore(scores, k);
  let ties = 0;
  for (let i = 0; i < k; i++) if (scoreAt(scores, i) === best) ties++;
  const share = mass / ties;
  for (let i = 0; i < k; i++) if (scoreAt(scores, i) === best) out[i] = out[i]! + share;
}

function scoreAt(scores: Float64Array, i: number): number {
  const s = scores[i]!;
  return s === s ? s : -Infinity;
}

function maxScore(scores: Float64Array, k: number): number {
  let best = -Infinity;
  for (let i = 0; i < k; i++) {
    const s = scoreAt(scores, i);
    if (s > best) best = s;
  }
  return best;
}

function firstAt(scores: Float64Array, k: number, best: number): number {
  for (let i = 0; i < k; i++) if (scoreAt(scores, i) === best) return i;
  return 0;
}

/** A scratch buffer that grows (rarely, outside the steady state) to hold k scores. */
export class ScoreBuffer {
  private buf: Float64Array;
  constructor(capacity: number) {
    this.buf = new Float64Array(Math.max(1, capacity));
  }
  get(k: number): Float64Array {
    if (this.buf.length < k) this.buf = new Float64Array(k);
    return this.buf;
  }
}

/** Writes the uniform distribution over k positions into out. */
export function fillUniform(k: number, out: Float64Array): void {
  const p = 1 / k;
  for (let i = 0; i < k; i++) out[i] = p;
}

/** Zeroes out[0..k-1]. */
export function fillZero(k: number, out: Float64Array): void {
  for (let i = 0; i < k; i++) out[i] = 0;
}
