import { readFile } from 'node:fs/promises';
import { MIN_SECRET_LENGTH, secretProblem } from './secret-strength.js';
import { BanditError, ErrorCodes, err, ok, type Result } from './errors.js';

export { MIN_SECRET_LENGTH };

/**
 * Reads a secret file, trimmed: the one place a secret is read and judged.
 * An unreadable file is EB_CONFIG_READ, a placeholder, short or weak secret
 * (secret-strength.ts) EB_CONFIG_INVALID; both name the file.
 */
export async function readSecret(path: string): Promise<Result<Buffer>> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    return err(new BanditError(ErrorCodes.CONFIG_READ, `cannot read ${path}: ${reason}`));
  }
  const problem = secretProblem(text);
  if (problem !== undefined) return err(new BanditError(ErrorCodes.CONFIG_INVALID, `${path}: ${problem}`));
  return ok(Buffer.from(text, 'utf8'));
}

/**
 * Start-up form: the secret, or the coded error thrown. The commands have
 * already checked every secret file (config/secrets.ts), so this throws only
 * when a file changed since.
 */
export async function requireSecret(path: string): Promise<Buffer> {
  const r = await readSecret(path);
  if (!r.ok) throw r.error;
  return r.value;
}
