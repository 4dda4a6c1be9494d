/** `envoy-bandit serve --config FILE`: the sidecar. */
import { formatIssues } from '../config/load.js';
import { Sidecar } from '../runtime/sidecar.js';
import type { CliIo } from './io.js';
import { loadServerCommand, startFailed, untilSignalled } from './server-command.js';
import { ErrorCodes } from '../util/errors.js';

const USAGE = [
  'usage: envoy-bandit serve --config FILE [--log-level LEVEL]',
  '',
  'Runs the sidecar: the ext_proc gRPC server, the admin HTTP server, gossip and the reward stream.',
  'SIGHUP reloads the config; SIGTERM/SIGINT drain and exit.',
];

export async function run(argv: string[], io: CliIo): Promise<number> {
  const loaded = await loadServerCommand('serve', argv, io, USAGE, { seed: { type: 'string' } });
  if (!loaded.ok) return loaded.exitCode;
  const { config, logger, configPath, values, priors } = loaded;
  let sidecar: Sidecar;
  try {
    const seed = typeof values.seed === 'string' ? Number(values.seed) : undefined;
    sidecar = await Sidecar.create({ config, logger, env: io.env, seed, configPath, priors });
    await sidecar.start();
  } catch (err) {
    return startFailed('serve', configPath, err, io, logger);
  }
  process.on('SIGHUP', () => {
    void sidecar.reloadFrom(configPath).then(
      (r) => {
        if (r.ok && r.value.restart_needed.length) {
          logger.warn({ routes: r.value.routes, restart_needed: r.value.restart_needed, trigger: 'SIGHUP' }, `config reloaded; changes to ${r.value.restart_needed.join(', ')} take effect on restart`);
        } else if (r.ok) logger.info({ routes: r.value.routes, trigger: 'SIGHUP' }, 'config reloaded');
        else logger.error({ code: r.error.code, issues: formatIssues(r.error.issues), trigger: 'SIGHUP' }, 'config reload rejected; the old config keeps serving');
      },
      // Applying a valid config threw (a bug): log it, as POST /v1/reload answers 500, rather than an unhandled rejection.
      (e: unknown) => logger.error({ err: e, code: ErrorCodes.INTERNAL, trigger: 'SIGHUP' }, 'config reload failed'),
    );
  });
  return untilSignalled(logger, () => sidecar.stop());
}
