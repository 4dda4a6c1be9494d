import type { ConfigIssue, ContextFreePolicyParams, PolicyParams } from '../config/types.js';
import { meanOf, type ArmStats, type Policy } from './types.js';
import { ThompsonBetaPolicy } from './thompson-beta.js';
import { ThompsonGaussianPolicy } from './thompson-gaussian.js';
import { Ucb1Policy } from './ucb1.js';
import { EpsilonGreedyPolicy } from './epsilon-greedy.js';
import { StaticPolicy } from './static.js';
import { FixedPolicy } from './fixed.js';

/**
 * Builds the context-free policy a route's config names (contextual ones,
 * which need the route's features, are built by the route runtime). `armNames` is the route's
 * configured arm list (PolicyInput.armIndex indexes into it). Never throws:
 * names that do not resolve degrade as each policy documents; run
 * `policyIssues` during config validation to reject them up front.
 */
export function createPolicy(params: ContextFreePolicyParams, armNames: readonly string[]): Policy {
  switch (params.type) {
    case 'thompson':
      return params.model === 'beta'
        ? new ThompsonBetaPolicy(params.prior)
        : new ThompsonGaussianPolicy(params.prior);
    case 'ucb1':
      return new Ucb1Policy(params.c, armNames.length);
    case 'epsilon_greedy':
      return new EpsilonGreedyPolicy(params.epsilon, params.decay, armNames.length);
    case 'static':
      return new StaticPolicy(params.weights, armNames);
    case 'fixed':
      return new FixedPolicy(params.arm, armNames);
  }
}

/** Posterior parameters of one arm for /v1/routes; always includes n and mean. */
export function describeArm(policy: Policy, stats: ArmStats): Record<string, number> {
  return policy.describe ? policy.describe(stats) : { n: stats.n, mean: meanOf(stats) };
}

/**
 * Problems with policy parameters against the route's arms, with paths
 * relative to the route's `policy` (prefix them with `routes[i].policy`).
 */
export function policyIssues(params: PolicyParams, armNames: readonly string[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const positive = (path: string, v: number): void => {
    if (!(Number.isFinite(v) && v > 0)) issues.push({ path, message: `must be a positive number, got ${v}` });
  };
  const nonNegative = (path: string, v: number): void => {
    if (!(Number.isFinite(v) && v >= 0)) issues.push({ path, message: `must be a number ≥ 0, got ${v}` });
  };
  switch (params.type) {
    case 'thompson':
      if (params.model === 'beta') {
        positive('prior.alpha', params.prior.alpha);
        positive('prior.beta', params.prior.beta);
      } else {
        if (!Number.isFinite(params.prior.mu)) issues.push({ path: 'prior.mu', message: 'must be a finite number' });
        positive('prior.kappa', params.prior.kappa);
        positive('prior.alpha', params.prior.alpha);
        positive('prior.beta', params.prior.beta);
      }
      break;
    case 'ucb1':
      nonNegative('c', params.c);
      break;
    case 'epsilon_greedy':
      if (!(params.epsilon >= 0 && params.epsilon <= 1)) {
        issues.push({ path: 'epsilon', message: `must be in [0, 1], got ${params.epsilon}` });
      }
      nonNegative('decay', params.decay);
      break;
    case 'static': {
      let any = false;
      for (const [name, w] of Object.entries(params.weights)) {
        if (!armNames.includes(name)) issues.push({ path: `weights.${name}`, message: `unknown arm "${name}"` });
        nonNegative(`weights.${name}`, w);
        if (w > 0) any = true;
      }
      if (!any) issues.push({ path: 'weights', message: 'at least one weight must be positive' });
      break;
    }
    case 'fixed':
      if (!armNames.includes(params.arm)) issues.push({ path: 'arm', message: `unknown arm "${params.arm}"` });
      break;
  }
  return issues;
}
