import { createRng } from '../util/rng.js';
import type { Policy, PolicyInput } from './types.js';
import { fillZero } from './select.js';

/**
 * Draws used to estimate a randomized policy's propensities. Each share is a
 * binomial proportion, so its standard error is sqrt(p(1-p)/M) ≤ 0.5/sqrt(M):
 * ≤ 0.0112 at M = 2000 (worst case p = 0.5; ~0.0049 at p = 0.05).
 */
export const MC_DRAWS = 2000;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/**
 * A 32-bit seed from everything the decision depends on, so the estimate is a
 * pure function of the input (reproducible, and never touches the decision RNG).
 */
export function inputSeed(input: PolicyInput): number {
  let h = 0x811c9dc5 ^ input.k;
  h = mixNumber(h, input.total);
  for (let i = 0; i < input.k; i++) {
    h = mix(h, input.armIndex[i]! | 0);
    h = mixNumber(h, input.n[i]!);
    h = mixNumber(h, input.sum[i]!);
    h = mixNumber(h, input.sumSq[i]!);
  }
  return fmix(h);
}

function mixNumber(h: number, x: number): number {
  f64[0] = x;
  return mix(mix(h, u32[0]!), u32[1]!);
}

function mix(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * out[i] = (times position i was chosen in `draws` calls of policy.choose) / draws.
 * The counts sum to `draws`, so the shares sum to 1 by construction, and they
 * estimate exactly the distribution `choose` samples from (ties included).
 */
export function monteCarloPropensities(
  policy: Pick<Policy, 'choose'>,
  input: PolicyInput,
  out: Float64Array,
  draws: number = MC_DRAWS,
): void {
  const k = input.k;
  fillZero(k, out);
  const rng = createRng(inputSeed(input));
  for (let m = 0; m < draws; m++) {
    const i = policy.choose(input, rng);
    out[i] = out[i]! + 1;
  }
  for (let i = 0; i < k; i++) out[i] = out[i]! / draws;
}
