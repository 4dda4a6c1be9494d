import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import { parseUntrusted } from '../util/untrusted.js';
import { recordsSchema, type Records } from './records.js';
import { slotSchema, type SlotSnapshot } from './snapshot.js';

export const SLOT_FORMAT = 'envoy-bandit-slot/1';

/**
 * Writes a JSON document atomically: a temp file, fsync, rename. A crash
 * leaves either the previous file or the new one, never a torn file.
 */
export async function writeJsonFileAtomic(path: string, doc: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(doc));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    // A half-written temp file on a full disk would only keep the disk full.
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * Reads a JSON document and validates it with `schema`. A missing file is
 * `ok(null)`; an unreadable, non-JSON or invalid one is EB_STATE_CORRUPT
 * naming the file (and the bad field).
 */
export async function readJsonFile<T>(path: string, schema: z.ZodType<T>): Promise<Result<T | null>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(null);
    return err(new BanditError(ErrorCodes.STATE_CORRUPT, `${path}: cannot read: ${(e as Error).message}`));
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return err(new BanditError(ErrorCodes.STATE_CORRUPT, `${path}: not JSON: ${(e as Error).message}`));
  }
  const value = parseUntrusted(schema, doc, ErrorCodes.STATE_CORRUPT, '');
  if (!value.ok) return err(new BanditError(ErrorCodes.STATE_CORRUPT, `${path}: ${value.error.message}`, value.error.details));
  return value;
}

export interface SlotFile {
  slot: SlotSnapshot;
  /** The fleet's operator and guardrail records as this replica knew them (so a lone restart keeps its mode). */
  records: Records;
}

/** This replica's slot and the fleet's records, written atomically. */
export function writeSlotFile(path: string, slot: SlotSnapshot, records: Records = {}): Promise<void> {
  return writeJsonFileAtomic(path, { format: SLOT_FORMAT, slot, records });
}

const slotFileSchema = z.object({ slot: slotSchema, records: recordsSchema });

export function readSlotFile(path: string): Promise<Result<SlotFile | null>> {
  return readJsonFile(path, slotFileSchema);
}
