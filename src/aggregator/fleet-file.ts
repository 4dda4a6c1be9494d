/** The aggregator's fleet snapshot file (`<log_file>.snapshot.json`): written atomically, read defensively. */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseSnapshot, type Snapshot } from '../state/snapshot.js';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';

export const FLEET_FORMAT = 'envoy-bandit-fleet/1';

export const fleetFileOf = (logFile: string) => `${logFile}.snapshot.json`;

export async function writeFleetFile(path: string, snapshot: Snapshot): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify({ format: FLEET_FORMAT, snapshot }));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

export async function readFleetFile(path: string): Promise<Result<Snapshot | null>> {
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
  const s = parseSnapshot((doc as { snapshot?: unknown } | null)?.snapshot);
  if (typeof s === 'string') return err(new BanditError(ErrorCodes.STATE_CORRUPT, `${path}: ${s}`));
  return ok(s);
}
