/**
 * Weighted rendezvous (highest-random-weight) hashing: the arm a session gets
 * when nobody has pinned it yet. Every replica computes the same answer from
 * the session hash and the shares, so a replica that never saw the session
 * agrees with the one that did (as far as their shares agree). Removing an
 * arm (quarantine) moves only that arm's sessions; a small change in shares
 * moves only a small fraction of sessions. Each arm's chance of winning equals
 * its share, so the policy's split is kept across sessions.
 */
import { fmix32 } from './session-key.js';

const TWO_21 = 2 ** 21;
const TWO_32 = 2 ** 32;

/** Uniform in (0, 1) from a session hash and an arm salt. */
function unit(hash: number, salt: number): number {
  const hi = Math.floor(hash / TWO_21) >>> 0;
  const lo = hash & 0x1fffff;
  const x = fmix32(fmix32(hi ^ salt) ^ Math.imul(lo, 0x9e3779b1) ^ salt);
  return (x + 0.5) / TWO_32;
}

/**
 * The arm index with the lowest score −ln(u)/share among arms with a positive
 * share (an exponential race: arm a wins with probability share[a] / Σ share);
 * -1 when no arm has one.
 */
export function rendezvous(hash: number, salts: ArrayLike<number>, shares: ArrayLike<number>): number {
  let best = -1;
  let bestScore = Number.POSITIVE_INFINITY;
  for (let a = 0; a < shares.length; a++) {
    const w = shares[a]!;
    if (!(w > 0)) continue;
    const score = -Math.log(unit(hash, salts[a]!)) / w;
    if (score < bestScore) {
      bestScore = score;
      best = a;
    }
  }
  return best;
}
