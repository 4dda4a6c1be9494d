/**
 * "Did you mean": the closest known config key to an unknown one, from every
 * key the schema knows (walked once from the zod schema itself, so it never
 * drifts from what the loader accepts).
 */
import type { z } from 'zod';

type Def = { type?: string; shape?: Record<string, unknown>; innerType?: unknown; in?: unknown; out?: unknown; options?: unknown[]; element?: unknown; valueType?: unknown };

function defOf(s: unknown): Def | undefined {
  return (s as { _zod?: { def?: Def } } | null)?._zod?.def;
}

/** Every object key anywhere in the schema. */
export function schemaKeys(schema: z.ZodType): Set<string> {
  const keys = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (s: unknown): void => {
    if (s === undefined || seen.has(s)) return;
    seen.add(s);
    const d = defOf(s);
    if (!d) return;
    if (d.shape) {
      for (const [k, v] of Object.entries(d.shape)) {
        keys.add(k);
        walk(v);
      }
    }
    for (const next of [d.innerType, d.in, d.out, d.element, d.valueType]) walk(next);
    for (const o of d.options ?? []) walk(o);
  };
  walk(schema);
  return keys;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The nearest other known key within a third of the key's length (at least 1, at most 3 edits), or undefined. */
export function suggestKey(unknown: string, known: Iterable<string>): string | undefined {
  const u = unknown.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(u.length / 3)));
  let best: string | undefined;
  let bestD = limit + 1;
  for (const k of known) {
    // The key itself is known elsewhere but not here (e.g. drift: on an alias policy form): no suggestion.
    if (k.toLowerCase() === u) continue;
    const d = editDistance(u, k.toLowerCase());
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best;
}
