/**
 * The YAML of contextual routing: a route's `features:` list and the
 * contextual policy blocks (`linucb`, `lints`). Parsed with zod, every issue
 * carrying the path of the bad field.
 */
import { z } from 'zod';
import { fromZodIssues } from '../config/issues.js';
import type { ConfigIssue } from '../config/types.js';
import { err, ok, type Result } from '../util/errors.js';
import { FeatureMap, featureWidth, MAX_FEATURE_DIM, type FeatureSpec } from './features.js';
import { DEFAULT_MIN_SHARE } from '../config/defaults.js';
import { DEFAULT_RIDGE_LAMBDA } from './model.js';
import { DEFAULT_LINTS_V, DEFAULT_LINUCB_ALPHA, LinTsPolicy, LinUcbPolicy, type ContextualPolicy } from './policies.js';

/** Hashed one-hot width of a categorical feature unless given. */
export const DEFAULT_CATEGORICAL_BUCKETS = 16;
export const CONTEXTUAL_POLICY_TYPES = ['linucb', 'lints'] as const;

const FEATURE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const HEADER_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const base = {
  name: z.string().regex(FEATURE_NAME_RE, 'use letters, digits, ".", "_" and "-"'),
  header: z.string().regex(HEADER_RE, 'must be an HTTP header name').transform((h) => h.toLowerCase()),
};

const numericSchema = z.discriminatedUnion('transform', [
  z.strictObject({ ...base, type: z.literal('numeric'), transform: z.literal('log'), scale: z.number().gt(0) }),
  z
    .strictObject({ ...base, type: z.literal('numeric'), transform: z.literal('clip'), min: z.number(), max: z.number() })
    .refine((f) => f.max > f.min, { message: 'max must be greater than min', path: ['max'] }),
  z
    .strictObject({ ...base, type: z.literal('numeric'), transform: z.literal('bucket'), edges: z.array(z.number()).min(1).max(MAX_FEATURE_DIM - 2) })
    .refine((f) => f.edges.every((e, i, all) => i === 0 || e > (all[i - 1] ?? Number.NEGATIVE_INFINITY)), { message: 'edges must be strictly increasing', path: ['edges'] }),
]);

const featureSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...base, type: z.literal('categorical'), buckets: z.number().int().min(1).max(MAX_FEATURE_DIM - 1).default(DEFAULT_CATEGORICAL_BUCKETS) }),
  numericSchema,
]);

export const featuresSchema = z
  .array(featureSchema)
  .min(1)
  .superRefine((fs, ctx) => {
    const seen = new Set<string>();
    fs.forEach((f, i) => {
      if (seen.has(f.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate feature name "${f.name}"` });
      seen.add(f.name);
    });
    const dim = 1 + fs.reduce((s, f) => s + featureWidth(f as FeatureSpec), 0);
    if (dim > MAX_FEATURE_DIM) ctx.addIssue({ code: 'custom', path: [], message: `feature dimension ${dim} (1 + the width of every feature) exceeds ${MAX_FEATURE_DIM}` });
  });

export const contextualPolicySchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('linucb'),
    alpha: z.number().min(0).default(DEFAULT_LINUCB_ALPHA),
    lambda: z.number().gt(0).default(DEFAULT_RIDGE_LAMBDA),
    min_share: z.number().min(0).lt(1).default(DEFAULT_MIN_SHARE),
  }),
  z.strictObject({
    type: z.literal('lints'),
    v: z.number().gt(0).default(DEFAULT_LINTS_V),
    lambda: z.number().gt(0).default(DEFAULT_RIDGE_LAMBDA),
    min_share: z.number().min(0).lt(1).default(DEFAULT_MIN_SHARE),
  }),
]);

export type ContextualPolicyConfig = z.output<typeof contextualPolicySchema>;

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
  const p = contextualPolicySchema.safeParse(raw.policy);
  const issues = [...(f.success ? [] : prefixed([...prefix, 'features'], f.error.issues)), ...(p.success ? [] : prefixed([...prefix, 'policy'], p.error.issues))];
  if (!f.success || !p.success) return err(issues);
  return ok({ features: new FeatureMap(f.data as FeatureSpec[]), policy: p.data });
}

export function createContextualPolicy(cfg: ContextualPolicyConfig): ContextualPolicy {
  return cfg.type === 'linucb' ? new LinUcbPolicy(cfg.alpha) : new LinTsPolicy(cfg.v);
}
