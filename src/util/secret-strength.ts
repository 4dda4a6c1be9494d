/**
 * The one rule for a shared secret (admin token, gossip secret, decision-id
 * key): long enough, not a placeholder from an example, and not so repetitive
 * that it is guessable. Returns why a secret is refused, or undefined.
 */

/** Shortest secret accepted (characters, after trimming). */
export const MIN_SECRET_LENGTH = 16;
/**
 * Least estimated strength: length × the Shannon entropy of the secret's own
 * character frequencies. 32 random hex digits score ~118 bits, 22 random
 * base64url characters ~96; `aaaaaaaaaaaaaaaaaaaa` scores 0 and
 * `abababababababababab` 20.
 */
export const MIN_SECRET_BITS = 64;
/** Fewest distinct characters. */
export const MIN_SECRET_DISTINCT = 8;

/** Words that only appear in examples and templates. */
const PLACEHOLDER_RE = /replace[-_ ]?me|change[-_ ]?me|changeit|placeholder|your[-_ ]?(?:secret|token)|example|insecure|^(?:secret|password|token)\d*$/i;

export function estimatedBits(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const n = [...text].length;
  let h = 0;
  for (const c of counts.values()) {
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return h * n;
}

/** Why `text` (already trimmed) is not an acceptable secret, or undefined when it is. */
export function secretProblem(text: string): string | undefined {
  if (text === '') return 'the secret file is empty';
  if (PLACEHOLDER_RE.test(text)) return 'the secret is a placeholder from an example (generate one: openssl rand -hex 32)';
  const chars = [...text];
  if (chars.length < MIN_SECRET_LENGTH) return `the secret is shorter than ${MIN_SECRET_LENGTH} characters (generate one: openssl rand -hex 32)`;
  const distinct = new Set(chars).size;
  const bits = estimatedBits(text);
  if (distinct < MIN_SECRET_DISTINCT || bits < MIN_SECRET_BITS) {
    return `the secret is too weak (${distinct} distinct characters, ~${Math.floor(bits)} bits; need ${MIN_SECRET_DISTINCT} and ${MIN_SECRET_BITS}) (generate one: openssl rand -hex 32)`;
  }
  return undefined;
}
