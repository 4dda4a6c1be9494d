import type { Logger } from 'pino';
import type { FleetView } from '../gossip/state.js';
import { fleetFileOf, readFleetFile, writeFleetFile } from './fleet-file.js';

/**
 * The aggregator's fleet view on disk (`<log_file>.snapshot.json`): merged in
 * at start, written every `state.interval` and once more at shutdown.
 */
export class FleetSnapshots {
  readonly file: string;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fleet: FleetView,
    logFile: string,
    private readonly logger: Logger,
  ) {
    this.file = fleetFileOf(logFile);
  }

  /** Merges the file's view, when there is one; an unreadable file is logged and gossip fills the view instead. */
  async load(): Promise<void> {
    const fleet = await readFleetFile(this.file);
    if (!fleet.ok) this.logger.error({ err: fleet.error.message }, 'fleet snapshot unreadable; starting from gossip');
    else if (fleet.value) {
      this.fleet.merge(fleet.value);
      this.logger.info({ file: this.file, slots: Object.keys(fleet.value.slots).length }, 'fleet snapshot loaded');
    }
  }

  startTimer(intervalMs: number): void {
    this.timer = setInterval(() => void this.write(), intervalMs);
    this.timer.unref();
  }

  stopTimer(): void {
    clearInterval(this.timer);
  }

  async write(): Promise<void> {
    try {
      await writeFleetFile(this.file, this.fleet.snapshot());
    } catch (err) {
      this.logger.error({ err, file: this.file }, 'fleet snapshot write failed');
    }
  }
}
