/** The aggregator's fleet snapshot file (`<log_file>.snapshot.json`): written atomically, read defensively. */
import { readJsonFile, writeJsonFileAtomic } from '../state/persistence.js';
import { z } from 'zod';
import { snapshotSchema, type Snapshot } from '../state/snapshot.js';
import type { Result } from '../util/errors.js';

export const FLEET_FORMAT = 'envoy-bandit-fleet/1';

export const fleetFileOf = (logFile: string) => `${logFile}.snapshot.json`;

export function writeFleetFile(path: string, snapshot: Snapshot): Promise<void> {
  return writeJsonFileAtomic(path, { format: FLEET_FORMAT, snapshot });
}

const fleetFileSchema = z.object({ snapshot: snapshotSchema }).transform((d): Snapshot => d.snapshot);

export function readFleetFile(path: string): Promise<Result<Snapshot | null>> {
  return readJsonFile(path, fleetFileSchema);
}
