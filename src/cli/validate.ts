/**
 * `envoy-bandit validate --config FILE [--envoy FILE] [--json] [--skip-files]`:
 * check a config, every file it names that `serve` reads at start (with
 * serve's own check, config/files.ts) and, with --envoy, the Envoy bootstrap
 * it runs with; print every issue with its path; warnings for what is legal
 * but probably wrong. Nothing listens and nothing is written.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { checkEnvoyConfig } from '../config/envoy-check.js';
import { checkConfigFiles, fileWarnings } from '../config/files.js';
import { formatIssues, loadConfigFile } from '../config/load.js';
import type { ConfigIssue } from '../config/types.js';
import { configWarnings } from '../config/warnings.js';
import { ErrorCodes } from '../util/errors.js';
import { readProblem } from '../util/secret.js';
import { packageVersion } from '../util/version.js';
import { parseFlags } from './args.js';
import type { CliIo } from './io.js';
import { EXIT_OK, EXIT_USAGE } from '../util/exit-codes.js';

const FLAGS = {
  config: { type: 'string', short: 'c' },
  envoy: { type: 'string', short: 'e' },
  json: { type: 'boolean' },
  'skip-files': { type: 'boolean' },
  version: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const USAGE = [
  'usage: envoy-bandit validate --config FILE [--envoy FILE] [--json] [--skip-files]',
  '',
  'Parses and checks a config file (env references expanded from this environment), and reads every',
  'file it names that serve reads at start (secrets, tls.*, warm_start.from, secret headers, webhook',
  'tokens; log.decisions_file can be written) with the checks serve applies, so a config that passes',
  'here does not fail serve on a file. Nothing listens and no file is created.',
  'With --envoy, also checks it against the Envoy bootstrap: every arm\'s cluster exists, the catch-all',
  '(fail-open) route goes to the default arm, the ext_proc filter is fail-open and a client-sent',
  'x-bandit-cluster is stripped before routing (docs/backends.md).',
  'Prints "ok: N routes (names)" and exits 0 (warnings do not fail), or every error with its path and exits 1.',
  '  --json        one JSON document on stdout: {ok, config, envoy, errors, warnings}; a file error has a code',
  '  --skip-files  check the config only, not the files it names (CI, where secrets are mounted only in the pod)',
  '  --version     print the version',
];

interface Outcome {
  ok: boolean;
  version: string;
  config: string;
  envoy: string | null;
  routes: string[];
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseFlags(argv, FLAGS, { maxPositionals: 1 });
  if (!parsed.ok) {
    io.stderr(`validate: ${parsed.error.message}`);
    for (const line of USAGE) io.stderr(line);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed.value;
  if (values.help) {
    for (const line of USAGE) io.stdout(line);
    return EXIT_OK;
  }
  if (values.version) {
    io.stdout(`envoy-bandit ${packageVersion()}`);
    return EXIT_OK;
  }
  // `validate FILE` is accepted as a shorthand for `validate --config FILE`.
  const file = values.config ?? positionals[0];
  if (file === undefined || (values.config !== undefined && positionals.length > 0)) {
    io.stderr(file === undefined ? 'validate: --config FILE is required' : `validate: unexpected argument ${JSON.stringify(positionals[0])}`);
    for (const line of USAGE) io.stderr(line);
    return EXIT_USAGE;
  }

  const out: Outcome = { ok: false, version: packageVersion(), config: file, envoy: values.envoy ?? null, routes: [], errors: [], warnings: [] };
  const loaded = await loadConfigFile(file, { env: io.env });
  if (!loaded.ok) out.errors.push(...loaded.error);
  else {
    out.routes = loaded.value.routes.map((r) => r.name);
    out.warnings.push(...configWarnings(loaded.value));
    if (!values['skip-files']) {
      out.errors.push(...(await checkConfigFiles(loaded.value)));
      out.warnings.push(...(await fileWarnings(loaded.value)));
    }
    if (values.envoy !== undefined) {
      const envoy = await readEnvoy(values.envoy);
      if ('error' in envoy) out.errors.push(envoy.error);
      else {
        const r = checkEnvoyConfig(loaded.value, envoy.doc);
        out.errors.push(...r.errors);
        out.warnings.push(...r.warnings);
      }
    }
  }
  out.ok = out.errors.length === 0;

  if (values.json) io.stdout(JSON.stringify(out, null, 2));
  else report(out, io);
  return out.ok ? EXIT_OK : EXIT_USAGE;
}

async function readEnvoy(path: string): Promise<{ doc: unknown } | { error: ConfigIssue }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return { error: { path: '--envoy', message: `cannot read ${path}: ${readProblem(e)}`, code: ErrorCodes.CONFIG_READ } };
  }
  try {
    return { doc: parse(text, { maxAliasCount: 100 }) as unknown };
  } catch (e) {
    return { error: { path: '--envoy', message: `${path} is not YAML/JSON: ${(e as Error).message.split('\n')[0]}`, code: ErrorCodes.CONFIG_INVALID } };
  }
}

function report(o: Outcome, io: CliIo): void {
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const against = o.envoy ? ` against ${o.envoy}` : '';
  if (!o.ok) {
    io.stderr(`invalid config ${o.config}${against}: ${plural(o.errors.length, 'issue')}`);
    for (const line of formatIssues(o.errors)) io.stderr(`  ${line}`);
  }
  for (const line of formatIssues(o.warnings)) io.stderr(`warning: ${line}`);
  if (o.ok) io.stdout(`ok: ${plural(o.routes.length, 'route')} (${o.routes.join(', ')})${against}${o.warnings.length ? `, ${plural(o.warnings.length, 'warning')}` : ''}`);
}
