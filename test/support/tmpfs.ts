/**
 * A small real file system that fills: a tmpfs mounted for the test (needs
 * root; where mounting is refused, `refused` says why and the test skips).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Why mounting failed, or null when `dir` is a fresh tmpfs. */
  refused: string | null;
  /** Fills the file system to the last byte (ENOSPC ends it); returns the filler file. */
  fill(): string;
  /** Frees what fill() took. */
  free(): void;
  unmount(): void;
}

export function mountTmpfs(prefix: string, bytes: number): Tmpfs {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const dir = join(base, 'mnt');
  mkdirSync(dir);
  let refused: string | null = null;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    refused = (e as Error).message.split('\n')[0]!;
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    refused,
    fill() {
      execFileSync('sh', ['-c', `dd if=/dev/zero of='${filler}' bs=4096 2>/dev/null; true`]);
      return filler;
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        /* already unmounted */
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
