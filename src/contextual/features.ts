/**
 * Request features for contextual policies: each declared feature reads one
 * request header and writes a fixed slice of a feature vector x. Slot 0 is
 * always an intercept (1), so an arm's model learns its context-free mean too.
 *
 * - categorical: the value is hashed (FNV-1a, 32-bit) into `buckets` slots,
 *   one-hot. Unseen values need no vocabulary; two values that collide share a
 *   slot (with 16 buckets and 3 values the chance of any collision is ~18 %;
 *   pick buckets ≥ 4× the expected distinct values).
 * - numeric, transform log:    log1p(max(0, v)) / log1p(scale), clipped to [0, 1]
 * - numeric, transform clip:   (clamp(v, min, max) - min) / (max - min), in [0, 1]
 * - numeric, transform bucket: one-hot over edges.length + 1 intervals
 *   (v < edges[0], edges[0] ≤ v < edges[1], …, v ≥ last edge).
 * A missing or non-numeric value leaves the feature's slots at 0: the model
 * falls back to the intercept and the other features.
 *
 * Extraction writes into a caller-owned Float64Array and allocates nothing.
 */
export type FeatureSpec =
  | { name: string; header: string; type: 'categorical'; buckets: number }
  | { name: string; header: string; type: 'numeric'; transform: 'log'; scale: number }
  | { name: string; header: string; type: 'numeric'; transform: 'clip'; min: number; max: number }
  | { name: string; header: string; type: 'numeric'; transform: 'bucket'; edges: readonly number[] };

/** Upper bound on the feature dimension (intercept included): O(d²) work per arm per decision. */
export const MAX_FEATURE_DIM = 64;

/** Slots a feature occupies in x. */
export function featureWidth(f: FeatureSpec): number {
  if (f.type === 'categorical') return f.buckets;
  if (f.transform === 'bucket') return f.edges.length + 1;
  return 1;
}

/** Whatever carries the request's headers (lower-case names): the ext_proc HeaderList, a Map. */
export interface HeaderGetter {
  get(name: string): string | undefined;
}

/** FNV-1a over the UTF-16 code units of s: stable across processes and versions. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class FeatureMap {
  /** Dimension of x: 1 (intercept) + the width of every feature. */
  readonly dim: number;
  private readonly offsets: Int32Array;
  private readonly lowerHeaders: readonly string[];
  /** The headers the features read, lower-case and de-duplicated (what the decision log records). */
  readonly headers: readonly string[];

  constructor(readonly specs: readonly FeatureSpec[]) {
    this.offsets = new Int32Array(specs.length);
    let d = 1;
    specs.forEach((f, i) => {
      this.offsets[i] = d;
      d += featureWidth(f);
    });
    this.dim = d;
    this.lowerHeaders = specs.map((f) => f.header.toLowerCase());
    this.headers = [...new Set(this.lowerHeaders)];
  }

  /** Writes x for one request into out[0..dim-1]. */
  extract(get: HeaderGetter, out: Float64Array): Float64Array {
    out.fill(0, 0, this.dim);
    out[0] = 1;
    const specs = this.specs;
    for (let i = 0; i < specs.length; i++) {
      const f = specs[i]!;
      const raw = get.get(this.lowerHeaders[i]!);
      if (raw === undefined || raw === '') continue;
      const o = this.offsets[i]!;
      if (f.type === 'categorical') {
        out[o + (hashString(raw) % f.buckets)] = 1;
        continue;
      }
      const v = Number(raw);
      if (!Number.isFinite(v)) continue;
      switch (f.transform) {
        case 'log': {
          const y = Math.log1p(v > 0 ? v : 0) / Math.log1p(f.scale);
          out[o] = y < 1 ? y : 1;
          break;
        }
        case 'clip': {
          const c = v < f.min ? f.min : v > f.max ? f.max : v;
          out[o] = (c - f.min) / (f.max - f.min);
          break;
        }
        case 'bucket': {
          const e = f.edges;
          let b = 0;
          while (b < e.length && v >= e[b]!) b++;
          out[o + b] = 1;
          break;
        }
      }
    }
    return out;
  }

  /** x from a plain record of header → value (logs, replay files). */
  extractRecord(values: Readonly<Record<string, string | number | undefined>>, out: Float64Array): Float64Array {
    return this.extract(
      {
        get: (h) => {
          const v = values[h];
          return v === undefined ? undefined : String(v);
        },
      },
      out,
    );
  }
}
