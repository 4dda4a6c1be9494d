/**
 * Untrusted structures (a peer's gossip snapshot, a state file, an admin
 * request body) are parsed with a zod schema: the result is the typed value
 * or a coded error whose message names the first bad field by its path
 * (`snapshot.slots.r1.routes.chat.a.n: must be ≥ 0, got -1`).
 */
import type { z } from 'zod';
import { configErrorMap, formatPath } from '../config/issues.js';
import { BanditError, err, ok, type ErrorCode, type Result } from './errors.js';

export function parseUntrusted<T>(schema: z.ZodType<T>, value: unknown, code: ErrorCode, root: string): Result<T, BanditError> {
  const r = schema.safeParse(value, { error: configErrorMap });
  if (r.success) return ok(r.data);
  const first = r.error.issues[0]!;
  const path = formatPath(root === '' ? first.path : [root, ...first.path]);
  return err(new BanditError(code, `${path === '' ? '(root)' : path}: ${first.message}`, r.error.issues));
}
