/** `envoy-bandit ctl`: the operator CLI (logic in src/tools/ctl/). */
import { parseFlags } from './args.js';
import type { CliIo } from './io.js';
import { CTL_DEFAULT_TIMEOUT_MS } from '../tools/ctl/client.js';
import { CTL_DEFAULT_WATCH_INTERVAL_MS, CTL_EXIT, CTL_USAGE, parseInterval, runCtl } from '../tools/ctl/run.js';

const FLAGS = {
  admin: { type: 'string', multiple: true },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  json: { type: 'boolean' },
  watch: { type: 'boolean', short: 'w' },
  interval: { type: 'string' },
  count: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseFlags(argv, FLAGS, { maxPositionals: 3 });
  const fail = (message: string) => {
    io.stderr(`ctl: ${message}`);
    for (const line of CTL_USAGE) io.stderr(line);
    return CTL_EXIT.usage;
  };
  if (!parsed.ok) return fail(parsed.error.message);
  const { values, positionals } = parsed.value;
  if (values.help) {
    for (const line of CTL_USAGE) io.stdout(line);
    return CTL_EXIT.ok;
  }
  const [verb, ...args] = positionals;
  if (verb === undefined) return fail('a command is required');
  const intervalMs = parseInterval(values.interval, '--interval', CTL_DEFAULT_WATCH_INTERVAL_MS);
  if (typeof intervalMs === 'string') return fail(intervalMs);
  const timeoutMs = parseInterval(values.timeout, '--timeout', CTL_DEFAULT_TIMEOUT_MS);
  if (typeof timeoutMs === 'string') return fail(timeoutMs);
  let count: number | null = null;
  if (values.count !== undefined) {
    count = Number(values.count);
    if (!Number.isInteger(count) || count < 1) return fail(`--count must be a whole number ≥ 1, got ${JSON.stringify(values.count)}`);
  }
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    return await runCtl(
      { verb, args },
      { admins: values.admin ?? [], token: values.token ?? null, tokenFile: values['token-file'] ?? null, json: values.json ?? false, watch: values.watch ?? false, intervalMs, count, timeoutMs },
      { stdout: io.stdout, stderr: io.stderr, tty: io.tty ?? false },
      io.env,
      stop.signal,
    );
  } finally {
    process.off('SIGINT', onSigint);
  }
}
