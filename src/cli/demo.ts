/**
 * `envoy-bandit demo [--duration 60s] [--rps N] [--out DIR] [--replicas N]
 *  [--seed N] [--load auto|wrk|node] [--json]`: the main job in one command
 * (docs/demo.md).
 */
import { Demo } from '../tools/demo/run.js';
import { DEMO_DEFAULTS, DEMO_MAX_DURATION_MS, DEMO_MAX_REPLICAS, DEMO_MAX_RPS, DEMO_MIN_DURATION_MS } from '../tools/demo/defaults.js';
import { parseDuration } from '../util/duration.js';
import { parseFlags } from './args.js';
import type { CliIo } from './io.js';
import { EXIT_OK, EXIT_USAGE } from '../util/exit-codes.js';

const FLAGS = {
  duration: { type: 'string', short: 'd' },
  rps: { type: 'string' },
  out: { type: 'string', short: 'o' },
  replicas: { type: 'string' },
  seed: { type: 'string' },
  load: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function help(): string[] {
  return [
    'usage: envoy-bandit demo [flags]',
    '',
    'Starts real processes on 127.0.0.1: 3 simulated model backends, the aggregator, N sidecar',
    'replicas (each behind its own Envoy) gossiping with each other; drives sticky-session load;',
    'makes the best model fail mid-run; then repeats on a static equal split for comparison.',
    '',
    `  --duration, -d D  total load time, bandit phase ${Math.round(0.7 * 100)}% + static baseline (default ${DEMO_DEFAULTS.durationMs / 1000}s)`,
    `  --rps N           requests per second over all replicas (default ${DEMO_DEFAULTS.rps})`,
    `  --replicas N      sidecar replicas, 1-${DEMO_MAX_REPLICAS} (default ${DEMO_DEFAULTS.replicas})`,
    `  --seed N          seed for the backends, the sidecars and the sessions (default ${DEMO_DEFAULTS.seed})`,
    `  --out, -o DIR     report.html, timeline.csv, summary.json and run/ (default ./${DEMO_DEFAULTS.out})`,
    '  --load KIND       auto (wrk when installed, else the built-in Node loop), wrk or node',
    '  --json            print the summary as JSON on stdout (the live view goes to stderr)',
  ];
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseFlags(argv, FLAGS);
  if (!parsed.ok) {
    io.stderr(`demo: ${parsed.error.message}`);
    return EXIT_USAGE;
  }
  const v = parsed.value.values;
  if (v.help) {
    for (const l of help()) io.stdout(l);
    return EXIT_OK;
  }
  const durationMs = v.duration === undefined ? DEMO_DEFAULTS.durationMs : parseDuration(v.duration);
  if (durationMs === undefined || durationMs < DEMO_MIN_DURATION_MS || durationMs > DEMO_MAX_DURATION_MS) {
    io.stderr(`demo: --duration must be a duration from ${DEMO_MIN_DURATION_MS / 1000}s to ${DEMO_MAX_DURATION_MS / 60_000}m, got ${JSON.stringify(v.duration)}`);
    return EXIT_USAGE;
  }
  const int = (flag: string, raw: string | undefined, dflt: number, min: number, max: number): number | string => {
    if (raw === undefined) return dflt;
    const x = Number(raw);
    return Number.isInteger(x) && x >= min && x <= max ? x : `demo: --${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`;
  };
  const rps = int('rps', v.rps, DEMO_DEFAULTS.rps, 1, DEMO_MAX_RPS);
  const replicas = int('replicas', v.replicas, DEMO_DEFAULTS.replicas, 1, DEMO_MAX_REPLICAS);
  const seed = int('seed', v.seed, DEMO_DEFAULTS.seed, 0, 2 ** 31 - 1);
  for (const x of [rps, replicas, seed]) {
    if (typeof x === 'string') {
      io.stderr(x);
      return EXIT_USAGE;
    }
  }
  const load = v.load ?? 'auto';
  if (load !== 'auto' && load !== 'wrk' && load !== 'node') {
    io.stderr(`demo: --load must be auto, wrk or node, got ${JSON.stringify(load)}`);
    return EXIT_USAGE;
  }
  const json = v.json === true;
  const demo = new Demo({
    durationMs,
    rps: rps as number,
    replicas: replicas as number,
    seed: seed as number,
    out: v.out ?? DEMO_DEFAULTS.out,
    load,
    json,
    tty: !json && process.stdout.isTTY === true && io.env.CI === undefined,
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
  });
  const { code } = await demo.run();
  return code;
}
