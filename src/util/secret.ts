import { readFile } from 'node:fs/promises';
import { fileIssue, issuesError } from '../config/issues.js';
import { MIN_SECRET_LENGTH, secretProblem } from './secret-strength.js';
import { BanditError, ErrorCodes, err, ok, type Result } from './errors.js';

export { MIN_SECRET_LENGTH };

/** Why a file cannot be read, in words (missing, permission, a directory). */
export function readProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (e as Error).message;
}

/** A file's text, trimmed; unreadable is EB_CONFIG_READ naming the file. */
async function readTrimmed(path: string): Promise<Result<string>> {
  try {
    return ok((await readFile(path, 'utf8')).trim());
  } catch (e) {
    return err(new BanditError(ErrorCodes.CONFIG_READ, `cannot read ${path}: ${readProblem(e)}`));
  }
}

/**
 * Reads one of our own shared secrets (admin token, gossip secret,
 * decision-id key), trimmed: the one place such a secret is read and judged.
 * An unreadable file is EB_CONFIG_READ, a placeholder, short or weak secret
 * (secret-strength.ts) EB_CONFIG_INVALID; both name the file.
 */
export async function readSecret(path: string): Promise<Result<Buffer>> {
  const text = await readTrimmed(path);
  if (!text.ok) return text;
  const problem = secretProblem(text.value);
  if (problem !== undefined) return err(new BanditError(ErrorCodes.CONFIG_INVALID, `${path}: ${problem}`));
  return ok(Buffer.from(text.value, 'utf8'));
}

/** Printable ASCII without line breaks: what an HTTP header value may hold. */
const HEADER_VALUE_RE = /^[\x20-\x7e\t]+$/;

/**
 * Reads a credential someone else issued that we send as a header value (a
 * backend's API key, a webhook's bearer token), trimmed: not judged for
 * strength, but it must be one non-empty line of printable ASCII.
 */
export async function readHeaderValue(path: string): Promise<Result<string>> {
  const text = await readTrimmed(path);
  if (!text.ok) return text;
  if (text.value === '') return err(new BanditError(ErrorCodes.CONFIG_INVALID, `${path}: the file is empty`));
  if (!HEADER_VALUE_RE.test(text.value)) return err(new BanditError(ErrorCodes.CONFIG_INVALID, `${path} must hold one line of printable ASCII (it becomes a header value)`));
  return ok(text.value);
}

/**
 * Start-up form of readSecret: the secret, or the coded error thrown at
 * `field` (the config path naming the file). The commands have already
 * checked every file (config/files.ts), so this throws only when a file
 * changed since.
 */
export async function requireSecret(path: string, field: string): Promise<Buffer> {
  const r = await readSecret(path);
  if (!r.ok) throw issuesError([fileIssue(field, r.error)]);
  return r.value;
}
