/**
 * `envoy-bandit loadtest --target URL [flags]`: open-loop load with sticky
 * sessions against your own deployment (src/tools/loadtest/).
 */
import { LOADTEST_DEFAULTS, LOADTEST_EXIT, LOADTEST_LIMITS } from '../tools/loadtest/defaults.js';
import { parseLoadtestOptions } from '../tools/loadtest/options.js';
import { runLoadtest } from '../tools/loadtest/run.js';
import { parseFlags } from './args.js';
import type { CliIo } from './io.js';

const FLAGS = {
  target: { type: 'string', short: 't', multiple: true },
  rps: { type: 'string' },
  duration: { type: 'string', short: 'd' },
  requests: { type: 'string', short: 'n' },
  concurrency: { type: 'string', short: 'c' },
  sessions: { type: 'string' },
  churn: { type: 'string' },
  'session-header': { type: 'string' },
  'session-cookie': { type: 'string' },
  method: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  body: { type: 'string' },
  stream: { type: 'boolean' },
  timeout: { type: 'string' },
  seed: { type: 'string' },
  'max-sticky-violations': { type: 'string' },
  'max-error-rate': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const D = LOADTEST_DEFAULTS;
const USAGE = [
  'usage: envoy-bandit loadtest --target URL [flags]',
  '',
  'Open-loop load with sticky sessions against a deployment (Envoy + envoy-bandit); prints a table per',
  'arm (from x-bandit-arm) and the sessions that saw more than one arm.',
  '',
  '  --target, -t URL         where to send (e.g. http://envoy:10000/v1/chat/completions); repeat it to',
  '                           spread requests round-robin over several (e.g. each replica\'s Envoy)',
  `  --rps N                  requests per second, sent on schedule whatever the latency (default ${D.rps})`,
  `  --duration, -d D         how long to send (default ${D.durationMs / 1000}s; with --requests: until they are sent)`,
  '  --requests, -n N         stop after N requests',
  `  --concurrency, -c N      most requests open at once; a request due beyond it is dropped, counted (default ${D.concurrency})`,
  `  --sessions N             session pool size; 0: no sessions (default ${D.sessions})`,
  `  --churn P                per request, chance its session is replaced by a new one (default ${D.churn})`,
  `  --session-header NAME    send the session in this header (default ${D.sessionHeader})`,
  '  --session-cookie NAME    send the session as this cookie instead',
  '  --method, -X M           HTTP method (default POST)',
  '  --header, -H "N: V"      extra request header (repeatable)',
  '  --body FILE              request body (default: a small OpenAI chat request)',
  '  --stream                 read SSE responses to the end; report time to first byte ("stream": true in the default body)',
  `  --timeout D              per request (default ${D.timeoutMs / 1000}s)`,
  `  --seed N                 session pool seed (default ${D.seed})`,
  '  --max-sticky-violations N  exit 3 when more sessions than N saw more than one arm',
  '  --max-error-rate P       exit 3 when more than this fraction of requests failed (non-2xx/3xx or no response)',
  '  --json                   print the report as JSON on stdout (progress stays on stderr)',
  '',
  `exit: ${LOADTEST_EXIT.ok} ok, ${LOADTEST_EXIT.usage} bad flags, ${LOADTEST_EXIT.unreachable} target unreachable, ${LOADTEST_EXIT.limitExceeded} a --max-* limit exceeded`,
  `bounds: rps ≤ ${LOADTEST_LIMITS.maxRps}, duration ≤ ${LOADTEST_LIMITS.maxDurationMs / 3_600_000}h, requests ≤ ${LOADTEST_LIMITS.maxRequests}, concurrency ≤ ${LOADTEST_LIMITS.maxConcurrency}`,
];

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseFlags(argv, FLAGS);
  if (!parsed.ok) {
    io.stderr(`loadtest: ${parsed.error.message}`);
    for (const line of USAGE) io.stderr(line);
    return LOADTEST_EXIT.usage;
  }
  const { json, help, ...flags } = parsed.value.values;
  if (help) {
    for (const line of USAGE) io.stdout(line);
    return LOADTEST_EXIT.ok;
  }
  const opts = await parseLoadtestOptions(flags);
  if (!opts.ok) {
    io.stderr(`loadtest: ${opts.error}`);
    return LOADTEST_EXIT.usage;
  }
  let current: { stop(): void } | undefined;
  const onSignal = () => current?.stop();
  process.once('SIGINT', onSignal);
  try {
    const out = await runLoadtest(opts.value, { stdout: io.stdout, stderr: io.stderr, tty: process.stderr.isTTY === true }, { json: json === true, onStart: (r) => (current = r) });
    return out.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
