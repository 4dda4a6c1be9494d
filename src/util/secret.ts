import { readFile } from 'node:fs/promises';

/** Shortest secret accepted from a file (decision-id key, gossip secret, admin token). */
export const MIN_SECRET_LENGTH = 16;

/** Reads a secret file, trimmed; refuses one shorter than MIN_SECRET_LENGTH characters. */
export async function readSecret(path: string): Promise<Buffer> {
  const text = (await readFile(path, 'utf8')).trim();
  if (text.length < MIN_SECRET_LENGTH) throw new Error(`${path}: secret is shorter than ${MIN_SECRET_LENGTH} characters`);
  return Buffer.from(text, 'utf8');
}
