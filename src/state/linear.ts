/**
 * The contextual statistics of a replica's slot: per contextual route and arm
 * the additive A = Σ w·x xᵀ, b = Σ w·r·x, n = Σ w of the linear models
 * (contextual/model.ts). They live in the slot beside the context-free
 * (n, sum, sumSq), so they replicate exactly like them: the owner alone writes
 * its slot, a merge keeps the newer copy of each slot, the fleet view is the
 * sum over slots (and the route's warm-start prior), and half_life fades them
 * by 2^(-age/half_life) when read.
 *
 * On the wire A is packed as its upper triangle (row-major, i ≤ j):
 * d(d+1)/2 numbers. `key` names the feature map the vectors were built with
 * (a hash of the route's `features:`); replicas only add up slots whose key
 * matches theirs, so a rollout that changes features never mixes bases.
 */
import { createHash } from 'node:crypto';
import { FeatureMap, MAX_FEATURE_DIM, type FeatureSpec } from '../contextual/features.js';
import type { LinearStats } from '../contextual/model.js';
import { decayFactor } from './accumulator.js';

export interface LinearArmSlot {
  n: number;
  /** Upper triangle of A, row-major, d(d+1)/2 numbers. */
  A: number[];
  b: number[];
}

export interface LinearRouteSlot {
  key: string;
  d: number;
  arms: Record<string, LinearArmSlot>;
}

export const packedLength = (d: number) => (d * (d + 1)) / 2;

/** Numbers a route's linear slot carries (what the per-message cap counts). */
export function linearSlotSize(r: LinearRouteSlot): number {
  let s = 0;
  for (const a of Object.values(r.arms)) s += a.A.length + a.b.length + 1;
  return s;
}

/** out += f · (the packed stats), A made symmetric again. */
export function addPacked(out: LinearStats, from: LinearArmSlot, f: number): void {
  const d = out.d;
  let p = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = from.A[p++]! * f;
      out.A[i * d + j] = out.A[i * d + j]! + v;
      if (j !== i) out.A[j * d + i] = out.A[j * d + i]! + v;
    }
  }
  for (let i = 0; i < d; i++) out.b[i] = out.b[i]! + from.b[i]! * f;
  out.n += from.n * f;
}

/** Structural validation of an untrusted linear slot entry (peer or file). */
export function parseLinearRoute(raw: unknown, path: string): LinearRouteSlot | string {
  if (!isRecord(raw)) return `${path}: expected an object`;
  if (typeof raw.key !== 'string' || raw.key.length === 0 || raw.key.length > 64) return `${path}.key: expected a string of 1 to 64 characters`;
  const d = raw.d;
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > MAX_FEATURE_DIM) return `${path}.d: expected an integer in 1..${MAX_FEATURE_DIM}`;
  if (!isRecord(raw.arms)) return `${path}.arms: expected an object`;
  const arms: Record<string, LinearArmSlot> = {};
  for (const [arm, s] of Object.entries(raw.arms)) {
    const p = `${path}.arms.${arm}`;
    if (!isRecord(s) || typeof s.n !== 'number' || !Number.isFinite(s.n) || s.n < 0) return `${p}.n: expected a finite number >= 0`;
    if (!finiteArray(s.A, packedLength(d))) return `${p}.A: expected ${packedLength(d)} finite numbers (the upper triangle of a ${d}×${d} matrix)`;
    if (!finiteArray(s.b, d)) return `${p}.b: expected ${d} finite numbers`;
    arms[arm] = { n: s.n, A: s.A as number[], b: s.b as number[] };
  }
  return { key: raw.key, d, arms };
}

const LAZY_RESCALE_ABOVE = 2 ** 64;

/**
 * One replica's own linear statistics for one contextual route. With a
 * half-life they are stored in growing units (an observation at time t is
 * added with weight 2^((t - ref)/half_life)) and read as of time t by one
 * multiplication, so adding costs O(nnz²) — no pass over every arm's matrix
 * per reward — and reading as of any time is exact.
 */
export class OwnLinear {
  private readonly stored: LinearStats[];
  private ref: number;

  constructor(
    readonly key: string,
    readonly d: number,
    readonly armCount: number,
    private readonly halfLifeMs: number,
    now: number,
  ) {
    this.stored = Array.from({ length: armCount }, () => ({ d, A: new Float64Array(d * d), b: new Float64Array(d), n: 0 }));
    this.ref = now;
  }

  private weightAt(t: number): number {
    return this.halfLifeMs > 0 ? Math.pow(2, (t - this.ref) / this.halfLifeMs) : 1;
  }

  /** Adds reward r at context x (nonzero positions nz[0..nnz)) to `arm`, at time `now`. */
  add(arm: number, x: Float64Array, nz: Int32Array, nnz: number, r: number, now: number): void {
    let w = this.weightAt(now);
    if (w > LAZY_RESCALE_ABOVE) {
      this.rebase(now);
      w = 1;
    }
    const s = this.stored[arm]!;
    const d = this.d;
    for (let p = 0; p < nnz; p++) {
      const i = nz[p]!;
      const wx = w * x[i]!;
      const row = i * d;
      for (let q = 0; q < nnz; q++) {
        const j = nz[q]!;
        s.A[row + j] = s.A[row + j]! + wx * x[j]!;
      }
      s.b[i] = s.b[i]! + wx * r;
    }
    s.n += w;
  }

  /** out += the arm's stats as of time t (faded by the half-life). */
  addInto(arm: number, out: LinearStats, t: number): void {
    const f = 1 / this.weightAt(t);
    const s = this.stored[arm]!;
    for (let i = 0; i < s.A.length; i++) out.A[i] = out.A[i]! + s.A[i]! * f;
    for (let i = 0; i < this.d; i++) out.b[i] = out.b[i]! + s.b[i]! * f;
    out.n += s.n * f;
  }

  /** The arm's stats as of time t, packed for the slot. */
  packAt(arm: number, t: number): LinearArmSlot {
    const f = 1 / this.weightAt(t);
    const s = this.stored[arm]!;
    const d = this.d;
    const A: number[] = new Array<number>(packedLength(d));
    let p = 0;
    for (let i = 0; i < d; i++) for (let j = i; j < d; j++) A[p++] = s.A[i * d + j]! * f;
    return { n: s.n * f, A, b: Array.from(s.b, (v) => v * f) };
  }

  /** Replaces the arm's stats with `from` (packed, as of time `at`) plus `extra` (unfaded), all as of `at`. */
  load(arm: number, from: LinearArmSlot | undefined, at: number, extra?: LinearStats): void {
    const s = this.stored[arm]!;
    s.A.fill(0);
    s.b.fill(0);
    s.n = 0;
    // Stored units are relative to `ref`: a value as of `at` is stored × weightAt(at).
    const w = this.weightAt(at);
    if (from) addPacked(s, from, w);
    if (extra) {
      for (let i = 0; i < s.A.length; i++) s.A[i] = s.A[i]! + extra.A[i]! * w;
      for (let i = 0; i < this.d; i++) s.b[i] = s.b[i]! + extra.b[i]! * w;
      s.n += extra.n * w;
    }
  }

  clear(): void {
    for (const s of this.stored) {
      s.A.fill(0);
      s.b.fill(0);
      s.n = 0;
    }
  }

  private rebase(now: number): void {
    const f = 1 / this.weightAt(now);
    for (const s of this.stored) {
      for (let i = 0; i < s.A.length; i++) s.A[i] = s.A[i]! * f;
      for (let i = 0; i < this.d; i++) s.b[i] = s.b[i]! * f;
      s.n *= f;
    }
    this.ref = now;
  }
}

/** Σ over `slots` of the route's linear stats for `arm` (matching key and dimension), faded to `now`. */
export function sumLinear(
  out: LinearStats,
  entries: Iterable<{ updatedAt: number; route: LinearRouteSlot | undefined }>,
  key: string,
  arm: string,
  now: number,
  halfLifeMs: number,
): LinearStats {
  for (const e of entries) {
    const r = e.route;
    if (!r || r.key !== key || r.d !== out.d) continue;
    const s = r.arms[arm];
    if (s) addPacked(out, s, decayFactor(now - e.updatedAt, halfLifeMs));
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function finiteArray(v: unknown, len: number): boolean {
  if (!Array.isArray(v) || v.length !== len) return false;
  for (const x of v) if (typeof x !== 'number' || !Number.isFinite(x)) return false;
  return true;
}

/** The feature map's shape in a slot: its dimension and a key that changes with any change of `features:`. */
export function featureShape(features: readonly FeatureSpec[]): { key: string; dim: number } {
  return { key: createHash('sha256').update(JSON.stringify(features)).digest('hex').slice(0, 16), dim: new FeatureMap(features).dim };
}
