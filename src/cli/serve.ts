import { parseArgs } from 'node:util';
import { formatIssues, loadConfigFile } from '../config/load.js';
import type { LogLevel } from '../config/types.js';
import { reloadFromFile } from '../runtime/reload.js';
import { Sidecar } from '../runtime/sidecar.js';
import { createLogger } from '../util/logger.js';
import type { CliIo } from './io.js';

const HARD_EXIT_MS = 10_000;
const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export async function run(argv: string[], io: CliIo): Promise<number> {
  let values: { config?: string; 'log-level'?: string; seed?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: 'string' }, 'log-level': { type: 'string' }, seed: { type: 'string' } }, strict: true }));
  } catch (e) {
    io.stderr(`serve: ${(e as Error).message}`);
    return 1;
  }
  if (!values.config) {
    io.stderr('serve: --config FILE is required');
    return 1;
  }
  const level = values['log-level'];
  if (level !== undefined && !LOG_LEVELS.has(level)) {
    io.stderr(`serve: --log-level must be one of ${[...LOG_LEVELS].join(', ')}`);
    return 1;
  }
  const loaded = await loadConfigFile(values.config, { env: io.env });
  if (!loaded.ok) {
    for (const line of formatIssues(loaded.error)) io.stderr(line);
    return 1;
  }
  const config = loaded.value;
  const logger = createLogger((level as LogLevel | undefined) ?? config.log.level);
  let sidecar: Sidecar;
  try {
    sidecar = await Sidecar.create({ config, logger, env: io.env, seed: values.seed === undefined ? undefined : Number(values.seed) });
    await sidecar.start();
  } catch (err) {
    logger.fatal({ err }, 'sidecar failed to start');
    io.stderr(`serve: ${(err as Error).message}`);
    return 2;
  }
  const configPath = values.config;
  process.on('SIGHUP', () => {
    void reloadFromFile(sidecar, configPath, io.env).then((r) => {
      if (r.ok) logger.info({ routes: r.routes, trigger: 'SIGHUP' }, 'config reloaded');
      else logger.error({ issues: formatIssues(r.issues), trigger: 'SIGHUP' }, 'config reload rejected; the old config keeps serving');
    });
  });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      setTimeout(() => {
        logger.error('drain did not finish in time; exiting');
        resolve(2);
      }, HARD_EXIT_MS).unref();
      sidecar.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(2);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
