/**
 * `envoy-bandit <command>`: dispatches to one module per command, loaded on
 * demand, so a command's dependencies cost nothing to the others. A command
 * is added by dropping `src/cli/<name>.ts` exporting `run(argv, io)` and a row
 * in COMMANDS.
 */
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE } from '../util/exit-codes.js';
import { VERSION } from '../util/version.js';
import { processIo, type CliIo } from './io.js';

export { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE };

export interface CommandModule {
  run(argv: string[], io: CliIo): Promise<number>;
}

export interface CommandSpec {
  summary: string;
  /** Resolves to the command's module; rejects with ERR_MODULE_NOT_FOUND when the file is absent. */
  load(): Promise<unknown>;
  /** The module's own URL (or specifier), used to tell "this command is missing" from "one of its imports is". */
  module: string;
}

function lazy(name: string, summary: string): CommandSpec {
  const specifier = `./${name}.js`;
  return {
    summary,
    module: specifier,
    // A computed specifier: the file may not exist yet, so it must not be resolved at compile time.
    load: () => import(/* @vite-ignore */ specifier),
  };
}

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  serve: lazy('serve', 'run the sidecar: ext_proc server, admin API, gossip member, reward streamer'),
  aggregator: lazy('aggregator', 'run the peer aggregator: reward log and fleet view'),
  validate: lazy('validate', 'check a config file and print every issue with its path'),
  demo: lazy('demo', 'run Envoy, sidecars, aggregator, simulated backends and load; report the outcome'),
  ctl: lazy('ctl', "operate a running fleet through any replica's admin API: status, pause, quarantine, ..."),
  loadtest: lazy('loadtest', 'open-loop load with sticky sessions against your deployment; per-arm table, sticky violations'),
  simulate: lazy('simulate', 'run the policies offline through a scenario or a replay file and compare them'),
  evaluate: lazy('evaluate', 'estimate off-policy what candidate policies would have earned on a decision log'),
};

export function usage(commands: Readonly<Record<string, CommandSpec>> = COMMANDS): string[] {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    'usage: envoy-bandit <command> [flags]',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'server commands take --config FILE and --log-level LEVEL; --version prints the version',
    "run 'envoy-bandit <command> --help' for a command's flags",
  ];
}

/**
 * True when the import failed because the command's own file is absent (as
 * opposed to a file it imports): Node names the missing file in the message,
 * and so does vite (tests).
 */
export function isOwnModuleMissing(e: unknown, specifier: string): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const message = String((e as { message?: unknown } | null)?.message ?? '');
  if (code !== 'ERR_MODULE_NOT_FOUND' && !/Failed to load url|Cannot find module/.test(message)) return false;
  const missing = /(?:Cannot find module|Failed to load url) '?([^'\s]+)/.exec(message)?.[1];
  if (missing === undefined) return false;
  const base = specifier.replace(/^.*\//, '').replace(/\.js$/, '');
  // Node reports the resolved path (…/cli/serve.js), vite the specifier (./serve.js or …/serve.ts).
  return new RegExp(`(^|/)${escapeRe(base)}\\.(js|ts|mjs)$`).test(missing);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const isCommandModule = (m: unknown): m is CommandModule => typeof (m as CommandModule | null)?.run === 'function';
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function main(argv: string[], io: CliIo = processIo(), commands: Readonly<Record<string, CommandSpec>> = COMMANDS): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    for (const line of usage(commands)) io.stderr(line);
    return EXIT_USAGE;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.stdout(`envoy-bandit ${VERSION} (node ${process.versions.node})`);
    return EXIT_OK;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] !== undefined && Object.hasOwn(commands, rest[0])) return main([rest[0], '--help'], io, commands);
    for (const line of usage(commands)) io.stdout(line);
    return EXIT_OK;
  }
  const spec = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (spec === undefined) {
    io.stderr(`envoy-bandit: unknown command ${JSON.stringify(name)}`);
    for (const line of usage(commands)) io.stderr(line);
    return EXIT_USAGE;
  }

  let mod: unknown;
  try {
    mod = await spec.load();
  } catch (e) {
    if (isOwnModuleMissing(e, spec.module)) {
      io.stderr(`envoy-bandit: command ${name} is not available yet`);
    } else {
      io.stderr(`envoy-bandit: command ${name} failed to load: ${messageOf(e)}`);
    }
    return EXIT_RUNTIME;
  }
  if (!isCommandModule(mod)) {
    io.stderr(`envoy-bandit: command ${name} does not export run(argv, io)`);
    return EXIT_RUNTIME;
  }

  try {
    const code = await mod.run(rest, io);
    return Number.isInteger(code) && code >= 0 && code <= 255 ? code : EXIT_RUNTIME;
  } catch (e) {
    io.stderr(`envoy-bandit ${name}: ${messageOf(e)}`);
    return EXIT_RUNTIME;
  }
}
