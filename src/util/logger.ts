import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/types.js';

export type { Logger };

/** JSON logs to stdout (or a given stream), one line per event. */
export function createLogger(level: LogLevel, destination?: DestinationStream, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service: 'envoy-bandit', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
