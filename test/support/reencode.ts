/**
 * Re-encodings of a decision id that a lenient base64 decoder reads as the
 * same bytes: padding, the unused low bits of a final character, the standard
 * alphabet, and whitespace (Node's decoder skips it). Distinct strings, none
 * equal to the original.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function lowBitVariants(part: string): string[] {
  const unused = (6 * part.length) % 8; // bits of the last character that carry no data
  if (unused === 0) return [part];
  const last = ALPHABET.indexOf(part[part.length - 1]!);
  const out: string[] = [];
  for (let v = 0; v < 1 << unused; v++) out.push(part.slice(0, -1) + ALPHABET[(last & ~((1 << unused) - 1)) | v]);
  return out;
}

export function reencodings(id: string, count: number): string[] {
  const [payload, sig] = id.split('.') as [string, string];
  const seen = new Set<string>([id]);
  const out: string[] = [];
  const add = (s: string) => {
    if (out.length < count && !seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  };
  const pad = (s: string) => s + '='.repeat((4 - (s.length % 4)) % 4 || 0);
  for (const p of lowBitVariants(payload)) for (const s of lowBitVariants(sig)) {
    add(`${p}.${s}`);
    add(`${pad(p)}.${s}`);
    add(`${p}.${pad(s)}`);
    add(`${p.replace(/-/g, '+').replace(/_/g, '/')}.${s}`);
  }
  for (let i = 1; out.length < count && i < payload.length; i++) add(`${payload.slice(0, i)}\n${payload.slice(i)}.${sig}`);
  for (let i = 1; out.length < count && i < payload.length; i++) add(`${payload.slice(0, i)} ${payload.slice(i)}.${sig}`);
  return out;
}
