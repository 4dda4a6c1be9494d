/** `envoy-bandit validate --config FILE`: check a config, print every issue, exit 1 on any. */
import { formatIssues, loadConfigFile } from '../config/load.js';
import { parseFlags } from './args.js';
import type { CliIo } from './io.js';

const FLAGS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
} as const;

const USAGE = [
  'usage: envoy-bandit validate --config FILE',
  '',
  'Parses and checks a config file (env references expanded from this environment).',
  'Prints "ok: N routes (names)" and exits 0, or every issue with its path and exits 1.',
];

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseFlags(argv, FLAGS, { maxPositionals: 1 });
  if (!parsed.ok) {
    io.stderr(`validate: ${parsed.error.message}`);
    for (const line of USAGE) io.stderr(line);
    return 1;
  }
  const { values, positionals } = parsed.value;
  if (values.help) {
    for (const line of USAGE) io.stdout(line);
    return 0;
  }
  // `validate FILE` is accepted as a shorthand for `validate --config FILE`.
  const file = values.config ?? positionals[0];
  if (file === undefined || (values.config !== undefined && positionals.length > 0)) {
    io.stderr(file === undefined ? 'validate: --config FILE is required' : `validate: unexpected argument ${JSON.stringify(positionals[0])}`);
    for (const line of USAGE) io.stderr(line);
    return 1;
  }

  const loaded = await loadConfigFile(file, { env: io.env });
  if (!loaded.ok) {
    const n = loaded.error.length;
    io.stderr(`invalid config ${file}: ${n} issue${n === 1 ? '' : 's'}`);
    for (const line of formatIssues(loaded.error)) io.stderr(`  ${line}`);
    return 1;
  }
  const names = loaded.value.routes.map((r) => r.name);
  io.stdout(`ok: ${names.length} route${names.length === 1 ? '' : 's'} (${names.join(', ')})`);
  return 0;
}
