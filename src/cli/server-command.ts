/** What `serve` and `aggregator` share: flags, config loading, logger, signal-driven shutdown. */
import type { Logger } from 'pino';
import { formatIssues, loadConfigFile } from '../config/load.js';
import { readConfigFiles, type FileRole } from '../config/files.js';
import type { Config, ConfigIssue } from '../config/types.js';
import type { WarmPrior } from '../state/warm-start.js';
import { BanditError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { parseFlags, parseLogLevel, SERVER_FLAGS, type FlagOptions } from './args.js';
import type { CliIo } from './io.js';
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE } from '../util/exit-codes.js';

export const HARD_EXIT_MS = 10_000;

export type FlagMap = Record<string, string | boolean | undefined>;

export type Loaded =
  | { ok: true; config: Config; logger: Logger; configPath: string; values: FlagMap; priors: ReadonlyMap<string, WarmPrior> }
  | { ok: false; exitCode: number };

/** Parses the common server flags (plus `extra`), loads and validates the config, builds the logger. */
export async function loadServerCommand(
  command: FileRole,
  argv: string[],
  io: CliIo,
  usage: readonly string[],
  extra: FlagOptions = {},
  logBindings: Record<string, unknown> = {},
): Promise<Loaded> {
  const parsed = parseFlags(argv, { ...SERVER_FLAGS, ...extra });
  if (!parsed.ok) {
    io.stderr(`${command}: ${parsed.error.message}`);
    for (const line of usage) io.stderr(line);
    return { ok: false, exitCode: EXIT_USAGE };
  }
  const values = parsed.value.values as FlagMap;
  if (values.help) {
    for (const line of usage) io.stdout(line);
    return { ok: false, exitCode: EXIT_OK };
  }
  const level = parseLogLevel(values['log-level'] as string | undefined);
  if (!level.ok) {
    io.stderr(`${command}: ${level.error.message}`);
    return { ok: false, exitCode: EXIT_USAGE };
  }
  const configPath = values.config as string | undefined;
  if (!configPath) {
    io.stderr(`${command}: --config FILE is required`);
    for (const line of usage) io.stderr(line);
    return { ok: false, exitCode: EXIT_USAGE };
  }
  const loaded = await loadConfigFile(configPath, { env: io.env });
  if (!loaded.ok) {
    io.stderr(`invalid config ${configPath}:`);
    for (const line of formatIssues(loaded.error)) io.stderr(`  ${line}`);
    return { ok: false, exitCode: EXIT_USAGE };
  }
  // Every file the command reads at start (secrets, TLS, warm starts...) is checked before anything listens: the same check as validate.
  const files = await readConfigFiles(loaded.value, command);
  if (files.issues.length > 0) {
    io.stderr(`invalid config ${configPath}:`);
    for (const line of formatIssues(files.issues)) io.stderr(`  ${line}`);
    return { ok: false, exitCode: EXIT_USAGE };
  }
  const logger = createLogger(level.value ?? loaded.value.log.level, undefined, logBindings);
  return { ok: true, config: loaded.value, logger, configPath, values, priors: files.priors };
}

/** The config issues an error carries (config/issues.ts issuesError), or null. */
function configIssuesOf(details: unknown): ConfigIssue[] | null {
  if (!Array.isArray(details) || details.length === 0) return null;
  const isIssue = (i: unknown) => typeof i === 'object' && i !== null && typeof (i as ConfigIssue).path === 'string' && typeof (i as ConfigIssue).message === 'string';
  return details.every(isIssue) ? (details as ConfigIssue[]) : null;
}

/**
 * Reports a failed start; the exit code: 1 when what failed is a file the
 * config names (the error carries config issues: the file turned bad after
 * the check, and is reported as the check reports it), else 2.
 */
export function startFailed(command: string, configPath: string, err: unknown, io: CliIo, logger: Logger): number {
  logger.fatal({ err }, `${command} failed to start`);
  const issues = err instanceof BanditError ? configIssuesOf(err.details) : null;
  if (issues) {
    io.stderr(`invalid config ${configPath}:`);
    for (const line of formatIssues(issues)) io.stderr(`  ${line}`);
    return EXIT_USAGE;
  }
  io.stderr(`${command}: ${(err as Error).message}`);
  return EXIT_RUNTIME;
}

/**
 * Resolves with the exit code once SIGTERM/SIGINT has drained `stop`:
 * 0 when it finished, 2 when it failed or overran HARD_EXIT_MS.
 */
export function untilSignalled(logger: Logger, stop: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      setTimeout(() => {
        logger.error({ limit_ms: HARD_EXIT_MS }, 'drain did not finish in time; exiting');
        resolve(EXIT_RUNTIME);
      }, HARD_EXIT_MS).unref();
      stop().then(
        () => resolve(EXIT_OK),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(EXIT_RUNTIME);
        },
      );
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}
