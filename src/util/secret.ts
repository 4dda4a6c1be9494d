import { readFile } from 'node:fs/promises';
import { MIN_SECRET_LENGTH, secretProblem } from './secret-strength.js';
import { BanditError, ErrorCodes } from './errors.js';

export { MIN_SECRET_LENGTH };

/**
 * Reads a secret file, trimmed; refuses a placeholder, short or weak one
 * (secret-strength.ts) with EB_CONFIG_INVALID naming the file.
 */
export async function readSecret(path: string): Promise<Buffer> {
  const text = (await readFile(path, 'utf8')).trim();
  const problem = secretProblem(text);
  if (problem !== undefined) throw new BanditError(ErrorCodes.CONFIG_INVALID, `${path}: ${problem}`);
  return Buffer.from(text, 'utf8');
}
