/**
 * `envoy-bandit evaluate --log decisions.jsonl --policy FILE [--policy FILE]...
 *  [--route NAME] [--json]`: off-policy estimates (IPS, SNIPS, DR, 95 %
 * intervals, effective sample size) of what each candidate policy would have
 * earned on the logged traffic, beside the logged policy's actual mean
 * reward (docs/contextual.md).
 */
import { readFile } from 'node:fs/promises';
import { buildCandidate, candidateIssues, readPolicyFile } from '../tools/offline/candidate.js';
import { readDecisionLog } from '../tools/offline/log-events.js';
import { evaluateOffPolicy, type Estimate, type OpeResult } from '../tools/offline/ope.js';
import { parseFlags } from './args.js';
import type { CliIo } from './io.js';
import { EXIT_OK, EXIT_USAGE } from '../util/exit-codes.js';

const FLAGS = {
  log: { type: 'string', short: 'l' },
  policy: { type: 'string', short: 'p', multiple: true },
  route: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Below this many effective samples an estimate is flagged as unreliable. */
export const LOW_ESS = 100;

function help(): string[] {
  return [
    'usage: envoy-bandit evaluate --log FILE --policy FILE [--policy FILE]... [--route NAME] [--json]',
    '',
    '  --log, -l FILE     the decision log (decision.log.file): decision lines with propensities, and reward lines',
    '  --policy, -p FILE  a candidate: a route policy: block (any type), features: for linucb/lints; repeatable',
    '  --route NAME       the route to evaluate (required when the log has several)',
    '  --json             one JSON object instead of the table',
  ];
}

const fmt = (e: Estimate) => `${e.value.toFixed(4)} [${e.low.toFixed(4)}, ${e.high.toFixed(4)}]`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseFlags(argv, FLAGS);
  if (!parsed.ok) {
    io.stderr(`evaluate: ${parsed.error.message}`);
    return EXIT_USAGE;
  }
  const v = parsed.value.values;
  if (v.help) {
    for (const l of help()) io.stdout(l);
    return EXIT_OK;
  }
  if (v.log === undefined || v.policy === undefined) {
    io.stderr(`evaluate: ${v.log === undefined ? '--log FILE' : '--policy FILE'} is required`);
    for (const l of help()) io.stderr(l);
    return EXIT_USAGE;
  }
  let text: string;
  try {
    text = await readFile(v.log, 'utf8');
  } catch (e) {
    io.stderr(`evaluate: cannot read log ${v.log}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
    return EXIT_USAGE;
  }
  const log = readDecisionLog(text, v.route);
  if (!log.ok) {
    io.stderr(`evaluate: log ${v.log}: ${log.error}`);
    return EXIT_USAGE;
  }
  if (log.value.events.length === 0) {
    io.stderr(`evaluate: log ${v.log}: no policy decision on route ${log.value.route} has both a propensity and a reward (turn on decision.log and propensities)`);
    return EXIT_USAGE;
  }
  const results: Array<{ name: string; result: OpeResult }> = [];
  for (const file of v.policy) {
    const spec = await readPolicyFile(file);
    if (!spec.ok) {
      io.stderr(`evaluate: ${spec.error}`);
      return EXIT_USAGE;
    }
    const cand = buildCandidate(spec.value, log.value.arms, log.value.contextKeys);
    if (!cand.ok) {
      io.stderr(`evaluate: ${candidateIssues(`policy file ${file}`, cand.error)}`);
      return EXIT_USAGE;
    }
    results.push({ name: spec.value.name, result: evaluateOffPolicy(log.value, cand.value) });
  }
  const L = log.value;
  if (v.json) {
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- --policy is required (checked above), so results has a first entry
    io.stdout(JSON.stringify({ route: L.route, arms: L.arms, events: L.events.length, skipped: L.skipped, logged: results[0]!.result.logged, candidates: results.map((r) => ({ name: r.name, ...r.result, logged: undefined })) }));
    return EXIT_OK;
  }
  const notPolicy = Object.entries(L.skipped.notPolicy).map(([k, n]) => `${n} ${k}`).join(', ');
  io.stdout(`route ${L.route}: ${L.events.length} logged policy decisions with rewards (arms ${L.arms.join(', ')})`);
  io.stdout(`  left out: ${L.skipped.noReward} without reward, ${L.skipped.noPropensity} without propensity${notPolicy ? `, ${notPolicy}` : ''}`);
  // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- --policy is required (checked above), so results has a first entry
  io.stdout(`logged policy, actual mean reward: ${fmt(results[0]!.result.logged)}`);
  const w = Math.max(10, ...results.map((r) => r.name.length));
  io.stdout(`${'candidate'.padEnd(w)}  ${'IPS [95% CI]'.padEnd(26)}  ${'SNIPS [95% CI]'.padEnd(26)}  ${'DR [95% CI]'.padEnd(26)}  ESS`);
  for (const { name, result: r } of results) {
    const warn = r.ess < LOW_ESS ? `  (ESS < ${LOW_ESS}: unreliable)` : '';
    io.stdout(`${name.padEnd(w)}  ${fmt(r.ips).padEnd(26)}  ${fmt(r.snips).padEnd(26)}  ${fmt(r.dr).padEnd(26)}  ${r.ess.toFixed(0)}${warn}`);
  }
  return EXIT_OK;
}
