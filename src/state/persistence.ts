import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import { parseRecords, type Records } from './records.js';
import { parseSlot, type SlotSnapshot } from './snapshot.js';

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
 * Reads a JSON document and validates it with `parse` (which returns the
 * value or a message naming the problem). A missing file is `ok(null)`; an
 * unreadable, non-JSON or invalid one is an error naming the file.
 */
export async function readJsonFile<T>(path: string, parse: (doc: unknown) => T | string): Promise<Result<T | null>> {
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
  const value = parse(doc);
  if (typeof value === 'string') return err(new BanditError(ErrorCodes.STATE_CORRUPT, `${path}: ${value}`));
  return ok(value);
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

export function readSlotFile(path: string): Promise<Result<SlotFile | null>> {
  return readJsonFile(path, (doc) => {
    const d = doc as { slot?: unknown; records?: unknown } | null;
    const slot = parseSlot(d?.slot, 'slot');
    if (typeof slot === 'string') return slot;
    const records = parseRecords(d?.records, 'records');
    if (typeof records === 'string') return records;
    return { slot, records };
  });
}
