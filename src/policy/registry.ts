import type { ContextFreePolicyParams } from '../config/types.js';
import type { Policy } from './types.js';
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
 * names that do not resolve degrade as each policy documents; config
 * validation (the schema and config/checks.ts) rejects them up front.
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

