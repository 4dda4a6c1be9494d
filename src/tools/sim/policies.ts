/**
 * The policies the simulator compares. Each is a route `policy:` block, the
 * same YAML the sidecar reads, built for the arms present at the moment (so
 * baselines that name an arm follow arm additions) and run through the real
 * config loader and Engine.
 */
import type { ArmKind, Scenario } from './scenario.js';

export interface PolicyContext {
  kind: ArmKind;
  /** Arms on the route now, in scenario order. */
  arms: readonly string[];
  newest: string;
  validationArm: string;
  /** The arm with the highest expected reward now (only the oracle may look). */
  bestArm: string;
  minShare: number;
  drift: { gamma: number; size: number };
  staticWeights: Record<string, number> | null;
}

export interface SimPolicy {
  name: string;
  summary: string;
  /** Rebuilt (engine reload) whenever the best arm changes: only the oracle. */
  followsBest?: boolean;
  build(ctx: PolicyContext): Record<string, unknown>;
}

/** Decaying epsilon: epsilon_t = 1 / (1 + decay · t), so 0.1 after ~1,800 observations, 0.02 after ~9,800. */
export const DECAYING_EPSILON = 1;
export const DECAYING_EPSILON_DECAY = 0.005;
export const FIXED_EPSILON = 0.1;

const thompson = (ctx: PolicyContext) => ({ model: ctx.kind === 'bernoulli' ? 'beta' : 'gaussian' });
const learn = (ctx: PolicyContext) => ({ min_share: ctx.minShare });

function equalOrGiven(ctx: PolicyContext): Record<string, number> {
  const w: Record<string, number> = {};
  for (const a of ctx.arms) w[a] = ctx.staticWeights ? (ctx.staticWeights[a] ?? 0) : 1;
  // Scenario weights that leave every present arm at 0 fall back to an equal split.
  if (!Object.values(w).some((x) => x > 0)) for (const a of ctx.arms) w[a] = 1;
  return w;
}

export const BUILTIN_POLICIES: readonly SimPolicy[] = [
  {
    name: 'oracle',
    summary: 'fixed on the arm with the best expected reward at every moment (reference: regret 0)',
    followsBest: true,
    build: (ctx) => ({ type: 'fixed', arm: ctx.bestArm }),
  },
  { name: 'naive', summary: 'fixed on the newest arm', build: (ctx) => ({ type: 'fixed', arm: ctx.newest }) },
  { name: 'validation', summary: 'fixed on the arm with the best offline score', build: (ctx) => ({ type: 'fixed', arm: ctx.validationArm }) },
  { name: 'static', summary: 'static A/B split (equal, or the scenario weights)', build: (ctx) => ({ type: 'static', weights: equalOrGiven(ctx) }) },
  {
    name: 'epsilon_greedy',
    summary: `epsilon-greedy, epsilon ${FIXED_EPSILON}`,
    build: (ctx) => ({ type: 'epsilon_greedy', epsilon: FIXED_EPSILON, ...learn(ctx) }),
  },
  {
    name: 'epsilon_decay',
    summary: `epsilon-greedy, epsilon ${DECAYING_EPSILON}/(1 + ${DECAYING_EPSILON_DECAY}·t)`,
    build: (ctx) => ({ type: 'epsilon_greedy', epsilon: DECAYING_EPSILON, decay: DECAYING_EPSILON_DECAY, ...learn(ctx) }),
  },
  { name: 'ucb1', summary: 'UCB1, c = 1.414', build: (ctx) => ({ type: 'ucb1', ...learn(ctx) }) },
  { name: 'thompson', summary: 'Thompson (beta for Bernoulli arms, Normal-Gamma for continuous)', build: (ctx) => ({ type: 'thompson', ...thompson(ctx), ...learn(ctx) }) },
  {
    name: 'discounted_thompson',
    summary: 'Thompson on discounted statistics (gamma)',
    build: (ctx) => ({ type: 'discounted_thompson', ...thompson(ctx), gamma: ctx.drift.gamma, ...learn(ctx) }),
  },
  {
    name: 'sliding_thompson',
    summary: 'Thompson on a sliding window (size)',
    build: (ctx) => ({ type: 'sliding_thompson', ...thompson(ctx), size: ctx.drift.size, ...learn(ctx) }),
  },
  { name: 'discounted_ucb1', summary: 'UCB1 on discounted statistics', build: (ctx) => ({ type: 'discounted_ucb1', gamma: ctx.drift.gamma, ...learn(ctx) }) },
  { name: 'sliding_ucb1', summary: 'UCB1 on a sliding window', build: (ctx) => ({ type: 'sliding_ucb1', size: ctx.drift.size, ...learn(ctx) }) },
  {
    name: 'discounted_epsilon_greedy',
    summary: `epsilon-greedy (${FIXED_EPSILON}) on discounted statistics`,
    build: (ctx) => ({ type: 'discounted_epsilon_greedy', epsilon: FIXED_EPSILON, gamma: ctx.drift.gamma, ...learn(ctx) }),
  },
  {
    name: 'sliding_epsilon_greedy',
    summary: `epsilon-greedy (${FIXED_EPSILON}) on a sliding window`,
    build: (ctx) => ({ type: 'sliding_epsilon_greedy', epsilon: FIXED_EPSILON, size: ctx.drift.size, ...learn(ctx) }),
  },
];

export const BUILTIN_POLICY_NAMES: ReadonlySet<string> = new Set(BUILTIN_POLICIES.map((p) => p.name));

/** Drift-aware forms (old evidence fades). */
export const DRIFT_AWARE = new Set([
  'discounted_thompson',
  'sliding_thompson',
  'discounted_ucb1',
  'sliding_ucb1',
  'discounted_epsilon_greedy',
  'sliding_epsilon_greedy',
]);

/** The built-in policies plus the scenario's own (its `policies:` blocks, used verbatim). */
export function policiesFor(s: Scenario): SimPolicy[] {
  const own = Object.entries(s.policies).map(([name, block]) => ({ name, summary: `scenario policy ${JSON.stringify(block)}`, build: () => block }));
  return [...BUILTIN_POLICIES, ...own];
}

/** Resolves `--policies a,b`: the policies in the order given, or the unknown names. */
export function selectPolicies(available: readonly SimPolicy[], names: readonly string[] | null): { ok: SimPolicy[]; unknown: string[] } {
  if (names === null) return { ok: [...available], unknown: [] };
  const byName = new Map(available.map((p) => [p.name, p]));
  const unknown = names.filter((n) => !byName.has(n));
  return { ok: names.filter((n) => byName.has(n)).map((n) => byName.get(n)!), unknown };
}
