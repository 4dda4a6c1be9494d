import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';
import { parseSlot, type SlotSnapshot } from './snapshot.js';

/**
 * Writes this replica's slot atomically: a temp file, fsync, rename. A crash
 * leaves either the previous snapshot or the new one, never a torn file.
 */
export async function writeSlotFile(path: string, slot: SlotSnapshot): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify({ format: 'envoy-bandit-slot/1', slot }));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** Reads a slot file; a missing file is `ok(null)`, a corrupt one an error naming the problem. */
export async function readSlotFile(path: string): Promise<Result<SlotSnapshot | null>> {
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
  const slot = parseSlot((doc as { slot?: unknown } | null)?.slot, 'slot');
  if (typeof slot === 'string') return err(new BanditError(ErrorCodes.STATE_CORRUPT, `${path}: ${slot}`));
  return ok(slot);
}
