/** `envoy-bandit aggregator --config FILE [--log-level L]`: the peer aggregator. */
import { AggregatorServer } from '../aggregator/server.js';
import { formatIssues, loadConfigFile } from '../config/load.js';
import { createLogger } from '../util/logger.js';
import { parseFlags, parseLogLevel, SERVER_FLAGS } from './args.js';
import type { CliIo } from './io.js';

/** Contract section 1: exit within 10 s of SIGTERM. */
const HARD_EXIT_MS = 10_000;

const USAGE = [
  'usage: envoy-bandit aggregator --config FILE [--log-level LEVEL]',
  '',
  'Receives reward streams from every replica on aggregator.address, appends each new reward',
  'to aggregator.log_file (JSONL, fsync per aggregator.fsync), and joins gossip (gossip.*)',
  'as a peer that holds the fleet view and serves it to starting replicas.',
];

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseFlags(argv, SERVER_FLAGS);
  if (!parsed.ok) {
    io.stderr(`aggregator: ${parsed.error.message}`);
    for (const line of USAGE) io.stderr(line);
    return 1;
  }
  const { values } = parsed.value;
  if (values.help) {
    for (const line of USAGE) io.stdout(line);
    return 0;
  }
  if (!values.config) {
    io.stderr('aggregator: --config FILE is required');
    return 1;
  }
  const level = parseLogLevel(values['log-level']);
  if (!level.ok) {
    io.stderr(`aggregator: ${level.error.message}`);
    return 1;
  }
  const loaded = await loadConfigFile(values.config, { env: io.env });
  if (!loaded.ok) {
    for (const line of formatIssues(loaded.error)) io.stderr(line);
    return 1;
  }
  const config = loaded.value;
  if (!config.aggregator?.log_file) {
    io.stderr('aggregator: aggregator.log_file is required (the durable reward log)');
    return 1;
  }
  const logger = createLogger(level.value ?? config.log.level, undefined, { role: 'aggregator' });
  let server: AggregatorServer;
  try {
    server = new AggregatorServer({ config, logger });
    await server.start();
  } catch (err) {
    logger.fatal({ err }, 'aggregator failed to start');
    io.stderr(`aggregator: ${(err as Error).message}`);
    return 2;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      setTimeout(() => {
        logger.error('shutdown did not finish in time; exiting');
        resolve(2);
      }, HARD_EXIT_MS).unref();
      server.stop().then(
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
