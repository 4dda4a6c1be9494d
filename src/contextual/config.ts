/**
 * A route's `features:` list and contextual policy block (`linucb`, `lints`)
 * outside a whole config (the offline tools' policy files, the benchmark):
 * parsed by the main config schema's own `policySchema` and `featuresSchema`,
 * so a policy file means exactly what the same block means in a route. Every
 * issue carries the path of the bad field.
 */
import type { z } from 'zod';
import { fromZodIssues } from '../config/issues.js';
import { featuresSchema, policySchema } from '../config/schema.js';
import type { ConfigIssue, PolicyConfig } from '../config/types.js';
import { err, ok, type Result } from '../util/errors.js';
import { FeatureMap, type FeatureSpec } from './features.js';
import { LinTsPolicy, LinUcbPolicy, type ContextualPolicy } from './policies.js';

export const CONTEXTUAL_POLICY_TYPES = ['linucb', 'lints'] as const;

/** A contextual route's policy block, as the main config schema reads it (defaults, drift and floor included). */
export type ContextualPolicyConfig = Extract<PolicyConfig, { type: 'linucb' | 'lints' }>;

/** A parsed contextual setup: what to extract and how to choose. */
export interface ContextualSetup {
  features: FeatureMap;
  policy: ContextualPolicyConfig;
}

export function isContextualType(type: unknown): type is ContextualPolicyConfig['type'] {
  return (CONTEXTUAL_POLICY_TYPES as readonly unknown[]).includes(type);
}

const prefixed = (prefix: PropertyKey[], issues: z.core.$ZodIssue[]): ConfigIssue[] =>
  fromZodIssues(issues.map((i) => ({ ...i, path: [...prefix, ...i.path] })));

/** Parses `features` and a contextual `policy` block (paths relative to `prefix`). */
export function parseContextual(raw: { features: unknown; policy: unknown }, prefix: PropertyKey[] = []): Result<ContextualSetup, ConfigIssue[]> {
  const f = featuresSchema.safeParse(raw.features);
  const p = policySchema.safeParse(raw.policy);
  const issues = [...(f.success ? [] : prefixed([...prefix, 'features'], f.error.issues)), ...(p.success ? [] : prefixed([...prefix, 'policy'], p.error.issues))];
  if (p.success && !isContextualType(p.data.type)) {
    issues.push(...fromZodIssues([{ code: 'custom', path: [...prefix, 'policy', 'type'], message: `policy ${p.data.type} does not read features; use linucb or lints`, input: p.data.type }]));
  }
  if (!f.success || !p.success || issues.length) return err(issues);
  return ok({ features: new FeatureMap(f.data as FeatureSpec[]), policy: p.data as ContextualPolicyConfig });
}

export function createContextualPolicy(cfg: ContextualPolicyConfig): ContextualPolicy {
  return cfg.type === 'linucb' ? new LinUcbPolicy(cfg.alpha) : new LinTsPolicy(cfg.v);
}
