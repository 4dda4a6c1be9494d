/**
 * Flag parsing for the commands: node:util parseArgs, strict, with its errors
 * turned into usage errors whose message names the bad flag.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LOG_LEVELS } from '../config/defaults.js';
import type { LogLevel } from '../config/types.js';
import { BanditError, ErrorCodes, err, ok, type Result } from '../util/errors.js';

export type FlagOptions = NonNullable<ParseArgsConfig['options']>;

type StrictConfig<O extends FlagOptions> = { args: string[]; options: O; strict: true; allowPositionals: true };
export type FlagValues<O extends FlagOptions> = ReturnType<typeof parseArgs<StrictConfig<O>>>['values'];

export interface ParsedFlags<O extends FlagOptions> {
  values: FlagValues<O>;
  positionals: string[];
}

/** Flags every server command takes (contract section 1), plus --help. */
export const SERVER_FLAGS = {
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies FlagOptions;

export function usageError(message: string): BanditError {
  return new BanditError(ErrorCodes.USAGE, message);
}

const quoted = (message: string): string | undefined => /'([^']+)'/.exec(message)?.[1];

/**
 * Parses `argv` against `options`. At most `maxPositionals` bare arguments
 * are accepted (default none). Errors name the flag: `unknown flag --foo`.
 */
export function parseFlags<const O extends FlagOptions>(
  argv: readonly string[],
  options: O,
  opts: { maxPositionals?: number } = {},
): Result<ParsedFlags<O>, BanditError> {
  let parsed: ParsedFlags<O>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const message = (e as Error).message;
    const flag = quoted(message);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) return err(usageError(`unknown flag ${flag}`));
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
      // node quotes the flag as '-c, --config <value>' or '--config'
      const name = /--[^\s,]+/.exec(flag)?.[0] ?? flag;
      return err(usageError(/missing/.test(message) ? `flag ${name} needs a value` : `flag ${name} does not take a value`));
    }
    return err(usageError(message));
  }
  const max = opts.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    return err(usageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`));
  }
  return ok(parsed);
}

/** `--log-level` → a LogLevel, or a usage error listing the levels. */
export function parseLogLevel(value: string | undefined): Result<LogLevel | undefined, BanditError> {
  if (value === undefined) return ok(undefined);
  if ((LOG_LEVELS as readonly string[]).includes(value)) return ok(value as LogLevel);
  return err(usageError(`flag --log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`));
}
