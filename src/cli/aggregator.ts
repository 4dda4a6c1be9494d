/** `envoy-bandit aggregator --config FILE [--log-level L]`: the peer aggregator. */
import { AggregatorServer } from '../aggregator/server.js';
import type { CliIo } from './io.js';
import { loadServerCommand, startFailed, untilSignalled } from './server-command.js';
import { EXIT_USAGE } from '../util/exit-codes.js';

const USAGE = [
  'usage: envoy-bandit aggregator --config FILE [--log-level LEVEL]',
  '',
  'Receives reward streams from every replica on aggregator.address, appends each new reward',
  'to aggregator.log_file (JSONL, fsync per aggregator.fsync), and joins gossip (gossip.*)',
  'as a peer that holds the fleet view and serves it to starting replicas. SIGHUP re-reads the',
  'tls.* certificate files.',
];

export async function run(argv: string[], io: CliIo): Promise<number> {
  const loaded = await loadServerCommand('aggregator', argv, io, USAGE, {}, { role: 'aggregator' });
  if (!loaded.ok) return loaded.exitCode;
  const { config, logger, configPath } = loaded;
  if (!config.aggregator?.log_file) {
    io.stderr('aggregator: aggregator.log_file is required (the durable reward log)');
    return EXIT_USAGE;
  }
  let server: AggregatorServer;
  try {
    server = new AggregatorServer({ config, logger });
    await server.start();
  } catch (err) {
    return startFailed('aggregator', configPath, err, io, logger);
  }
  // SIGHUP re-reads the mutual-TLS certificate files (they are also re-read every tls.reload).
  const onHup = () => void server.reloadTls().catch((err: unknown) => logger.error({ err }, 'tls reload failed'));
  process.on('SIGHUP', onHup);
  const code = await untilSignalled(logger, () => server.stop());
  process.off('SIGHUP', onHup);
  return code;
}
