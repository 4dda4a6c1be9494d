/**
 * A policy the offline tools (replay, evaluate) can run one request at a
 * time: choose for a context, report its propensities for that context,
 * learn from a reward. Built from a policy file — a route `policy:` block as
 * the sidecar reads it (any type, through the real config loader), plus
 * `features:` for the contextual types — so what is evaluated offline is
 * what would be deployed.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { formatIssues } from '../../config/issues.js';
import type { ConfigIssue, ContextFreePolicyParams, PolicyConfig } from '../../config/types.js';
import { ContextualChooser } from '../../contextual/chooser.js';
import { isContextualType, parseContextual } from '../../contextual/config.js';
import { chooseWithFloor, propensitiesWithFloor } from '../../policy/floor.js';
import { PolicyInputBuffer } from '../../policy/input.js';
import { createPolicy } from '../../policy/registry.js';
import type { ArmStats, Policy } from '../../policy/types.js';
import { createAccumulator, type RouteAccumulator } from '../../state/accumulator.js';
import { err, ok, type Result } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import { simConfig } from '../sim/engine-config.js';

export type Context = Readonly<Record<string, string>>;

export interface OfflinePolicy {
  readonly name: string;
  /** The configured arm index chosen for `context`. */
  choose(context: Context, rng: Rng): number;
  /** out[a] = probability of arm a for `context` (floor included). */
  propensities(context: Context, out: Float64Array): Float64Array;
  observe(context: Context, arm: number, reward: number): void;
}

/** A candidate as written in a policy file: `{ policy: {...}, features?: [...] }`. */
export interface PolicySpec {
  name: string;
  policy: Record<string, unknown>;
  features?: unknown;
}

/** Categorical features over the given context keys: the contextual default when a file names none. */
export function defaultFeatures(keys: readonly string[]): Array<Record<string, unknown>> {
  return keys.map((k) => ({ name: k.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[^A-Za-z0-9]/, 'f'), header: k, type: 'categorical', buckets: 16 }));
}

class ContextFreeCandidate implements OfflinePolicy {
  private readonly policy: Policy;
  private readonly acc: RouteAccumulator;
  private readonly input: PolicyInputBuffer;
  private readonly pos: Float64Array;
  private readonly stats: ArmStats = { n: 0, sum: 0, sumSq: 0 };

  constructor(
    readonly name: string,
    private readonly cfg: PolicyConfig,
    arms: readonly string[],
  ) {
    this.policy = createPolicy(cfg as PolicyConfig & ContextFreePolicyParams, arms);
    this.acc = createAccumulator(arms.length, cfg.drift);
    this.input = new PolicyInputBuffer(arms.length);
    this.pos = new Float64Array(arms.length);
  }

  private fill(): PolicyInputBuffer {
    const k = this.acc.armCount;
    let total = 0;
    for (let a = 0; a < k; a++) total += this.acc.read(a, this.stats).n;
    this.input.reset(total);
    for (let a = 0; a < k; a++) this.input.push(a, this.acc.read(a, this.stats));
    return this.input;
  }

  choose(_c: Context, rng: Rng): number {
    return chooseWithFloor(this.policy, this.fill(), rng, this.cfg.min_share);
  }

  propensities(_c: Context, out: Float64Array): Float64Array {
    propensitiesWithFloor(this.policy, this.fill(), this.cfg.min_share, this.pos);
    out.set(this.pos.subarray(0, this.acc.armCount));
    return out;
  }

  observe(_c: Context, arm: number, reward: number): void {
    this.acc.add(arm, reward);
  }
}

class ContextualCandidate implements OfflinePolicy {
  constructor(
    readonly name: string,
    private readonly chooser: ContextualChooser,
  ) {}
  choose(c: Context, rng: Rng): number {
    return this.chooser.setContextRecord(c).choose(rng);
  }
  propensities(c: Context, out: Float64Array): Float64Array {
    return this.chooser.setContextRecord(c).propensities(out);
  }
  observe(c: Context, arm: number, reward: number): void {
    this.chooser.setContextRecord(c).observe(arm, reward);
  }
}

/** Builds a fresh candidate (its own statistics) for the route's arms; issues name the bad field. */
export function buildCandidate(spec: PolicySpec, arms: readonly string[], contextKeys: readonly string[]): Result<OfflinePolicy, ConfigIssue[]> {
  if (isContextualType(spec.policy.type)) {
    const features = spec.features ?? defaultFeatures(contextKeys);
    const r = parseContextual({ features, policy: spec.policy });
    if (!r.ok) return r;
    return ok(new ContextualCandidate(spec.name, new ContextualChooser(r.value, arms.length)));
  }
  if (spec.features !== undefined) return err([{ path: 'features', message: `policy type ${JSON.stringify(spec.policy.type)} does not read features; use linucb or lints` }]);
  try {
    const cfg = simConfig({ kind: 'continuous', arms, policy: spec.policy, sloMs: 1000 });
    return ok(new ContextFreeCandidate(spec.name, cfg.routes[0]!.policy, arms));
  } catch (e) {
    return err([{ path: 'policy', message: (e as Error).message }]);
  }
}

/** Reads a policy file (YAML or JSON): `policy:` (required), `features:` (contextual), `name:` (default: the file name). */
export async function readPolicyFile(path: string): Promise<Result<PolicySpec, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return err(`cannot read policy file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return err(`policy file ${path}: YAML: ${(e as Error).message.split('\n', 1)[0]}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return err(`policy file ${path}: expected a mapping with a policy: block`);
  const d = doc as Record<string, unknown>;
  const unknown = Object.keys(d).filter((k) => !['name', 'policy', 'features'].includes(k));
  if (unknown.length) return err(`policy file ${path}: ${unknown[0]}: unknown key (expected name, policy, features)`);
  if (typeof d.policy !== 'object' || d.policy === null || Array.isArray(d.policy)) return err(`policy file ${path}: policy: required, a route policy block`);
  if (d.name !== undefined && typeof d.name !== 'string') return err(`policy file ${path}: name: expected a string`);
  const name = (d.name as string | undefined) ?? path.replace(/^.*\//, '').replace(/\.(ya?ml|json)$/, '');
  const spec: PolicySpec = { name, policy: d.policy as Record<string, unknown> };
  if (d.features !== undefined) spec.features = d.features;
  return ok(spec);
}

/** `policy file X: path: message` lines. */
export function candidateIssues(where: string, issues: readonly ConfigIssue[]): string {
  return `${where}: ${formatIssues(issues).join('; ')}`;
}
