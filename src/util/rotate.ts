import { rename, unlink } from 'node:fs/promises';

/**
 * Size-based rotation shared by the decision log and the reward log: `file`
 * becomes `file.1`, `file.1` becomes `file.2`, …, and `file.<keep>` is
 * deleted. The caller has closed `file` and opens a fresh one after.
 */
export async function rotateFiles(file: string, keep: number): Promise<void> {
  await unlink(`${file}.${keep}`).catch(ignoreMissing);
  for (let i = keep - 1; i >= 1; i--) await rename(`${file}.${i}`, `${file}.${i + 1}`).catch(ignoreMissing);
  await rename(file, `${file}.1`).catch(ignoreMissing);
}

/** The rotated files that exist, oldest first (for a replay that must see them all). */
export function rotatedNames(file: string, keep: number): string[] {
  return Array.from({ length: keep }, (_, i) => `${file}.${keep - i}`);
}

function ignoreMissing(e: unknown): void {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
}
