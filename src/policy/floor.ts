import type { Rng } from '../util/rng.js';
import { fillUniform } from './select.js';

/**
 * The exploration floor (route `min_share`), applied outside every policy:
 * with probability k * minShare the pick is uniform over the k eligible arms,
 * otherwise the policy decides. Each eligible arm therefore gets at least
 * minShare. Generic over the input so contextual policies share it. When k * minShare ≥ 1 the floor cannot be met for every arm and the
 * pick is simply uniform (each arm gets 1/k ≤ minShare). minShare ≤ 0: no floor.
 */
export function chooseWithFloor<I extends { readonly k: number }>(policy: { choose(input: I, rng: Rng): number }, input: I, rng: Rng, minShare: number): number {
  const k = input.k;
  if (!(minShare > 0)) return policy.choose(input, rng);
  const explore = k * minShare;
  const u = rng.next();
  if (explore >= 1 || u < explore) {
    // Given u < explore, u / minShare is uniform on [0, k): reuse the draw.
    const i = Math.floor(explore >= 1 ? u * k : u / minShare);
    return i < k ? i : k - 1;
  }
  return policy.choose(input, rng);
}

/** out[i] = minShare + (1 - k * minShare) * p_policy(i); uniform when k * minShare ≥ 1. */
export function propensitiesWithFloor<I extends { readonly k: number }>(policy: { propensities(input: I, out: Float64Array): void }, input: I, minShare: number, out: Float64Array): void {
  const k = input.k;
  const m = minShare > 0 ? minShare : 0;
  if (k * m >= 1) {
    fillUniform(k, out);
    return;
  }
  policy.propensities(input, out);
  const rest = 1 - k * m;
  for (let i = 0; i < k; i++) out[i] = m + rest * out[i]!;
}
