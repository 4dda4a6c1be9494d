import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** True when the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/** Runs a bench when its file is the entry point: prints its formatted result, exit 2 on failure. */
export function runIfMain<T>(moduleUrl: string, bench: () => Promise<T>, format: (r: T) => string): void {
  if (!isMain(moduleUrl)) return;
  bench().then(
    (r) => console.log(format(r)),
    (e: unknown) => {
      console.error(e);
      process.exit(2);
    },
  );
}
