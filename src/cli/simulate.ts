/**
 * `envoy-bandit simulate --scenario NAME|FILE|all [--policies a,b] [--seeds N]
 *  [--duration S] [--min-share X] [--out DIR]`: runs policies through a
 * scenario offline (docs/simulation.md) and prints a table per scenario;
 * --out also writes results.csv and report.html.
 * `envoy-bandit simulate --replay FILE [--policy FILE]... [--seeds N]`: runs
 * policies over a full-information outcome file (docs/contextual.md).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatIssues } from '../config/issues.js';
import { BUILTIN_SCENARIOS, builtinScenario } from '../tools/sim/builtins.js';
import { simConfig } from '../tools/sim/engine-config.js';
import { BUILTIN_POLICIES, BUILTIN_POLICY_NAMES, policiesFor, selectPolicies, type SimPolicy } from '../tools/sim/policies.js';
import { reportHtml, resultsCsv, targetRows, textTable } from '../tools/sim/report.js';
import { armsPresentAt, newestArm, parseScenario, type Scenario } from '../tools/sim/scenario.js';
import { runPolicies, type ScenarioResult, type SuiteOptions } from '../tools/sim/summary.js';
import { readPolicyFile, type PolicySpec } from '../tools/offline/candidate.js';
import { defaultReplaySpecs, parseReplay, replayTable, runReplay } from '../tools/offline/replay.js';
import { parseFlags } from './args.js';
import type { CliIo } from './io.js';
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE } from '../util/exit-codes.js';

export const DEFAULT_SEEDS = 5;
export const MAX_SEEDS = 1000;
const MAX_SCENARIO_BYTES = 1024 * 1024;
const MAX_REPLAY_BYTES = 1024 * 1024 * 1024;

const FLAGS = {
  scenario: { type: 'string', short: 's' },
  policies: { type: 'string', short: 'p' },
  seeds: { type: 'string' },
  out: { type: 'string', short: 'o' },
  duration: { type: 'string' },
  'min-share': { type: 'string' },
  replay: { type: 'string', short: 'r' },
  policy: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

function help(): string[] {
  return [
    'usage: envoy-bandit simulate --scenario NAME|FILE|all [flags]',
    '       envoy-bandit simulate --replay FILE [--policy FILE]... [--seeds N]',
    '',
    '  --scenario, -s   a built-in scenario, a scenario YAML file, or "all" (the built-in suite)',
    `  --policies, -p   comma-separated policies (default: all). Built in: ${BUILTIN_POLICIES.map((p) => p.name).join(', ')}`,
    `  --seeds N        seeds 1..N per policy (default ${DEFAULT_SEEDS})`,
    '  --duration S     simulated seconds (default: the scenario\'s)',
    '  --min-share X    exploration floor for the learning policies (default: the scenario\'s)',
    '  --out, -o DIR    also write DIR/results.csv and DIR/report.html',
    '  --replay, -r F   a full-information outcome file (JSONL: {"context": {...}, "rewards": {arm: r, ...}})',
    '  --policy FILE    with --replay: a policy file (policy: block, features: for linucb/lints); repeatable',
    '                   (default: static, epsilon_greedy, ucb1, thompson, linucb, lints)',
    '',
    `built-in scenarios: ${BUILTIN_SCENARIOS.map((s) => s.name).join(', ')}`,
  ];
}

type Usage = { error: string };
const isUsage = (x: unknown): x is Usage => typeof (x as Usage | null)?.error === 'string';

async function resolveScenarios(arg: string): Promise<Scenario[] | Usage> {
  if (arg === 'all') return [...BUILTIN_SCENARIOS];
  const builtin = builtinScenario(arg);
  if (builtin) return [builtin];
  let text: string;
  try {
    const buf = await readFile(arg);
    if (buf.length > MAX_SCENARIO_BYTES) return { error: `scenario file ${arg} is larger than ${MAX_SCENARIO_BYTES} bytes` };
    text = buf.toString('utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return { error: `unknown scenario ${JSON.stringify(arg)}: not a built-in (${BUILTIN_SCENARIOS.map((s) => s.name).join(', ')}, all) and no such file` };
    }
    return { error: `cannot read scenario file ${arg}: ${(e as Error).message}` };
  }
  const parsed = parseScenario(text, BUILTIN_POLICY_NAMES);
  if (!parsed.ok) return { error: [`scenario file ${arg} is invalid:`, ...formatIssues(parsed.error).map((l) => `  ${l}`)].join('\n') };
  return [parsed.value];
}

function number(flag: string, raw: string | undefined, check: (x: number) => boolean, want: string): number | undefined | Usage {
  if (raw === undefined) return undefined;
  const x = Number(raw);
  return raw.trim() !== '' && Number.isFinite(x) && check(x) ? x : { error: `flag --${flag} must be ${want}, got ${JSON.stringify(raw)}` };
}

/** Builds every selected policy's config for the scenario's first moment, so a bad policy fails before any run. */
function checkPolicies(s: Scenario, policies: readonly SimPolicy[], minShare: number | undefined): string | undefined {
  const arms = armsPresentAt(s, 0).map((a) => a.name);
  for (const p of policies) {
    try {
      const block = p.build({
        kind: s.kind,
        arms,
        newest: newestArm(s, 0),
        validationArm: s.validation_arm,
        // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- a validated scenario has at least one arm at time 0
        bestArm: arms[0]!,
        minShare: minShare ?? s.min_share,
        drift: s.drift,
        staticWeights: s.static_weights,
      });
      simConfig({ kind: s.kind, arms, policy: block, sloMs: s.slo_ms });
    } catch (e) {
      return `scenario ${s.name}: policy ${p.name}: ${(e as Error).message}`;
    }
  }
  return undefined;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseFlags(argv, FLAGS);
  if (!parsed.ok) {
    io.stderr(`simulate: ${parsed.error.message}`);
    return EXIT_USAGE;
  }
  const v = parsed.value.values;
  if (v.help) {
    for (const l of help()) io.stdout(l);
    return EXIT_OK;
  }
  if (v.replay !== undefined) {
    if (v.scenario !== undefined) {
      io.stderr('simulate: give --scenario or --replay, not both');
      return EXIT_USAGE;
    }
    return runReplayCommand(v.replay, v.policy ?? [], v.seeds, io);
  }
  if (v.policy !== undefined) {
    io.stderr('simulate: --policy needs --replay (scenarios take --policies)');
    return EXIT_USAGE;
  }
  if (v.scenario === undefined) {
    io.stderr('simulate: --scenario NAME|FILE|all or --replay FILE is required');
    for (const l of help()) io.stderr(l);
    return EXIT_USAGE;
  }
  const seeds = number('seeds', v.seeds, (x) => Number.isInteger(x) && x >= 1 && x <= MAX_SEEDS, `an integer from 1 to ${MAX_SEEDS}`);
  const duration = number('duration', v.duration, (x) => x > 0, 'a positive number of seconds');
  const minShare = number('min-share', v['min-share'], (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  for (const x of [seeds, duration, minShare]) {
    if (isUsage(x)) {
      io.stderr(`simulate: ${x.error}`);
      return EXIT_USAGE;
    }
  }
  const scenarios = await resolveScenarios(v.scenario);
  if (isUsage(scenarios)) {
    for (const l of scenarios.error.split('\n')) io.stderr(`simulate: ${l}`);
    return EXIT_USAGE;
  }
  const names = v.policies === undefined ? null : v.policies.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names !== null && names.length === 0) {
    io.stderr('simulate: --policies needs at least one policy name');
    return EXIT_USAGE;
  }
  const plan: Array<[Scenario, SimPolicy[]]> = [];
  for (const s of scenarios) {
    const sel = selectPolicies(policiesFor(s), names);
    if (sel.unknown.length) {
      io.stderr(`simulate: unknown polic${sel.unknown.length > 1 ? 'ies' : 'y'} ${sel.unknown.map((n) => JSON.stringify(n)).join(', ')}; available: ${policiesFor(s).map((p) => p.name).join(', ')}`);
      return EXIT_USAGE;
    }
    const bad = checkPolicies(s, sel.ok, minShare as number | undefined);
    if (bad) {
      io.stderr(`simulate: ${bad}`);
      return EXIT_USAGE;
    }
    plan.push([s, sel.ok]);
  }

  const opts: SuiteOptions = { seeds: (seeds as number | undefined) ?? DEFAULT_SEEDS };
  if (duration !== undefined) opts.durationS = duration as number;
  if (minShare !== undefined) opts.minShare = minShare as number;
  const results: ScenarioResult[] = [];
  for (const [s, policies] of plan) {
    const r = runPolicies(s, policies, opts);
    results.push(r);
    for (const l of textTable(r)) io.stdout(l);
    io.stdout('');
  }
  for (const t of targetRows(results)) {
    io.stdout(
      `target ${t.scenario}: best drift-aware ${t.best} regret ${t.bestRegret.toFixed(0)} = ` +
        `${(t.bestRegret / t.staticRegret).toFixed(2)}x static, ${(t.bestRegret / t.epsilonRegret).toFixed(2)}x epsilon_greedy`,
    );
  }

  if (v.out !== undefined) {
    try {
      await mkdir(v.out, { recursive: true });
      await writeFile(join(v.out, 'results.csv'), resultsCsv(results));
      await writeFile(join(v.out, 'report.html'), reportHtml(results, { seeds: opts.seeds, generated: new Date().toISOString() }));
    } catch (e) {
      io.stderr(`simulate: cannot write results to ${v.out}: ${(e as Error).message}`);
      return EXIT_RUNTIME;
    }
    io.stdout(`wrote ${join(v.out, 'results.csv')} and ${join(v.out, 'report.html')}`);
  }
  return EXIT_OK;
}

async function runReplayCommand(file: string, policyFiles: readonly string[], seedsRaw: string | undefined, io: CliIo): Promise<number> {
  const seeds = number('seeds', seedsRaw, (x) => Number.isInteger(x) && x >= 1 && x <= MAX_SEEDS, `an integer from 1 to ${MAX_SEEDS}`);
  if (isUsage(seeds)) {
    io.stderr(`simulate: ${seeds.error}`);
    return EXIT_USAGE;
  }
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_REPLAY_BYTES) {
      io.stderr(`simulate: replay file ${file} is larger than ${MAX_REPLAY_BYTES} bytes`);
      return EXIT_USAGE;
    }
    text = buf.toString('utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    io.stderr(`simulate: cannot read replay file ${file}: ${code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
    return EXIT_USAGE;
  }
  const data = parseReplay(text);
  if (!data.ok) {
    io.stderr(`simulate: replay file ${file}: ${data.error}`);
    return EXIT_USAGE;
  }
  const specs: PolicySpec[] = [];
  for (const f of policyFiles) {
    const spec = await readPolicyFile(f);
    if (!spec.ok) {
      io.stderr(`simulate: ${spec.error}`);
      return EXIT_USAGE;
    }
    specs.push(spec.value);
  }
  const result = runReplay(data.value, specs.length ? specs : defaultReplaySpecs(data.value), (seeds as number | undefined) ?? DEFAULT_SEEDS);
  if (!result.ok) {
    io.stderr(`simulate: ${result.error}`);
    return EXIT_USAGE;
  }
  for (const l of replayTable(result.value)) io.stdout(l);
  return EXIT_OK;
}
