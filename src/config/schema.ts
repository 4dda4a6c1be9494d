/**
 * The zod schema of the YAML config: shape, types, ranges and per-field
 * formats, with every default filled in and durations turned into `*_ms`.
 * Checks that relate fields to each other (arm names, weights, secrets) live
 * in checks.ts so they run even when some other field is malformed.
 */
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { parseAddress } from '../util/address.js';
import { featureWidth, MAX_FEATURE_DIM } from '../contextual/features.js';
import type { FeatureSpec } from '../contextual/features.js';
import { DEFAULT_RIDGE_LAMBDA } from '../contextual/model.js';
import { DEFAULT_LINTS_V, DEFAULT_LINUCB_ALPHA } from '../contextual/policies.js';
import * as D from './defaults.js';
import { describeValue } from './issues.js';
import type { Config, DriftConfig, PolicyConfig, PolicyParams, RouteConfig } from './types.js';

/** Route and arm names: they appear in admin URLs, metric labels and decision ids. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** Envoy cluster names as they may travel in the `x-bandit-cluster` header value. */
export const CLUSTER_RE = /^[A-Za-z0-9_.:|-]{1,255}$/;
/** RFC 9110 token: the characters an HTTP header name may use. */
export const HTTP_TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
export const STATUS_PATTERN_RE = /^[1-5](?:[0-9]{2}|xx)$/;
const REPLICA_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

export const POLICY_TYPES = [
  'thompson', 'ucb1', 'epsilon_greedy', 'static', 'fixed',
  'discounted_thompson', 'discounted_ucb1', 'discounted_epsilon_greedy',
  'sliding_thompson', 'sliding_ucb1', 'sliding_epsilon_greedy',
  'linucb', 'lints',
] as const;

// ---------- field types ----------

function duration(opts: { allowZero?: boolean } = {}) {
  return z
    .string({
      error: (iss) =>
        iss.input === undefined ? 'required' : `expected a duration like 500ms, 30s, 5m or 1h, got ${describeValue(iss.input)}`,
    })
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', input: text, message: `invalid duration ${describeValue(text)}: expected a number and a unit (ms, s, m, h), e.g. 500ms, 30s, 5m` });
        return z.NEVER;
      }
      if (ms === 0 && !opts.allowZero) {
        ctx.addIssue({ code: 'custom', input: text, message: 'must be greater than 0' });
        return z.NEVER;
      }
      return ms;
    });
}

const name = (what: string) =>
  z.string().regex(NAME_RE, { error: (iss) => `invalid ${what} name ${describeValue(iss.input)}: use letters, digits, '.', '_' and '-' (at most 63, starting with a letter or digit)` });

const cluster = z
  .string()
  .min(1)
  .regex(CLUSTER_RE, { error: (iss) => `invalid cluster name ${describeValue(iss.input)}: use letters, digits and _ . : | -` });

/** Header names are matched lower-case, as Envoy hands them to ext_proc. */
const headerName = z
  .string()
  .regex(HTTP_TOKEN_RE, { error: (iss) => `invalid header name ${describeValue(iss.input)}: not an HTTP token` })
  .transform((s) => s.toLowerCase());

const cookieName = z
  .string()
  .regex(HTTP_TOKEN_RE, { error: (iss) => `invalid cookie name ${describeValue(iss.input)}: not an HTTP token` });

const filePath = z.string().min(1);

function address(opts: { unix: boolean; portZero: boolean }) {
  const expected = opts.unix ? 'host:port or unix:/path' : 'host:port';
  return z.string().refine(
    (s) => {
      const a = parseAddress(s);
      if (a === undefined) return false;
      if (a.kind === 'unix') return opts.unix;
      return opts.portZero || a.port > 0;
    },
    { error: (iss) => `invalid address ${describeValue(iss.input)}: expected ${expected} (port 0-65535)` },
  );
}
const listenAddress = address({ unix: true, portZero: true });
const peerAddress = address({ unix: false, portZero: false });

const statusPattern = z
  .union([z.string(), z.int()], { error: (iss) => `expected a status pattern like "2xx" or "404", got ${describeValue(iss.input)}` })
  .transform((v, ctx) => {
    const s = String(v).toLowerCase();
    if (!STATUS_PATTERN_RE.test(s)) {
      ctx.addIssue({ code: 'custom', input: v, message: `invalid status pattern ${describeValue(v)}: expected a code like "404" or a class like "2xx"` });
      return z.NEVER;
    }
    return s;
  });

const nonNegative = z.number().min(0);
const fraction = z.number().min(0).max(1);
const gamma = z.number().gt(0).max(1);
const windowSize = z.int().min(1);

// ---------- policy ----------

const driftSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('none') }),
  z.strictObject({ mode: z.literal('discount'), gamma: gamma.default(D.DEFAULT_DRIFT_GAMMA) }),
  z.strictObject({ mode: z.literal('window'), size: windowSize.default(D.DEFAULT_DRIFT_WINDOW_SIZE) }),
  z
    .strictObject({ mode: z.literal('half_life'), half_life: duration().default(D.DEFAULT_DRIFT_HALF_LIFE_MS) })
    .transform(({ half_life, ...rest }) => ({ ...rest, half_life_ms: half_life })),
]);

const learningMinShare = z.number().min(0).lt(1).default(D.DEFAULT_MIN_SHARE);
const baselineMinShare = z.number().min(0).lt(1).default(D.DEFAULT_MIN_SHARE_BASELINE);

const BETA_PRIOR_KEYS = ['alpha', 'beta'];
const thompsonFields = {
  model: z.enum(['beta', 'gaussian']).default(D.DEFAULT_THOMPSON_MODEL),
  prior: z
    .strictObject({
      mu: z.number().optional(),
      kappa: z.number().gt(0).optional(),
      alpha: z.number().gt(0).optional(),
      beta: z.number().gt(0).optional(),
    })
    .optional(),
};
type ThompsonInput = { model: 'beta' | 'gaussian'; prior?: { mu?: number; kappa?: number; alpha?: number; beta?: number } | undefined };

function checkPrior(v: ThompsonInput, ctx: z.RefinementCtx): void {
  if (v.model !== 'beta' || v.prior === undefined) return;
  for (const key of ['mu', 'kappa'] as const) {
    if (v.prior[key] !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['prior', key], message: `not a parameter of the beta prior (${BETA_PRIOR_KEYS.join(', ')}); use model: gaussian` });
    }
  }
}

function thompsonParams(v: ThompsonInput): PolicyParams {
  const p = v.prior ?? {};
  if (v.model === 'beta') {
    return { type: 'thompson', model: 'beta', prior: { alpha: p.alpha ?? D.DEFAULT_BETA_PRIOR.alpha, beta: p.beta ?? D.DEFAULT_BETA_PRIOR.beta } };
  }
  const g = D.DEFAULT_GAUSSIAN_PRIOR;
  return { type: 'thompson', model: 'gaussian', prior: { mu: p.mu ?? g.mu, kappa: p.kappa ?? g.kappa, alpha: p.alpha ?? g.alpha, beta: p.beta ?? g.beta } };
}

const ucb1Fields = { c: nonNegative.default(D.DEFAULT_UCB1_C) };
const epsilonFields = { epsilon: fraction.default(D.DEFAULT_EPSILON), decay: nonNegative.default(D.DEFAULT_EPSILON_DECAY) };

const withPolicy = (params: PolicyParams, min_share: number, drift: DriftConfig): PolicyConfig => ({ ...params, min_share, drift });

// Each policy form (base, discounted_*, sliding_*) is one option of the union;
// the alias forms carry their drift parameter flat (`gamma`, `size`) instead of `drift`.
const thompsonBase = { ...thompsonFields, min_share: learningMinShare };
const ucb1Base = { ...ucb1Fields, min_share: learningMinShare };
const epsilonBase = { ...epsilonFields, min_share: learningMinShare };
const driftField = { drift: driftSchema.default({ mode: 'none' }) };
/**
 * Contextual policies fade by time only: their A and b are summed over every
 * replica's slot, and a per-observation fade (discount, window) would make the
 * fleet's memory depend on the number of replicas (see gossip/state.ts).
 */
const contextualDriftField = {
  drift: driftSchema
    .refine((d) => d.mode === 'none' || d.mode === 'half_life', { message: 'linucb and lints decay by time only: use drift mode none or half_life' })
    .default({ mode: 'none' }),
};
const discountField = { gamma: gamma.default(D.DEFAULT_DRIFT_GAMMA) };
const slidingField = { size: windowSize.default(D.DEFAULT_DRIFT_WINDOW_SIZE) };
const discount = (g: number): DriftConfig => ({ mode: 'discount', gamma: g });
const sliding = (size: number): DriftConfig => ({ mode: 'window', size });

const ucb1Params = (v: { c: number }): PolicyParams => ({ type: 'ucb1', c: v.c });
const epsilonParams = (v: { epsilon: number; decay: number }): PolicyParams => ({ type: 'epsilon_greedy', epsilon: v.epsilon, decay: v.decay });

const weightsSchema = z
  .record(z.string(), nonNegative)
  .refine((w) => Object.values(w).reduce((a, b) => a + b, 0) > 0, { error: 'weights must sum to more than 0' });

export const policySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('thompson'), ...thompsonBase, ...driftField })
    .superRefine(checkPrior)
    .transform((v) => withPolicy(thompsonParams(v), v.min_share, v.drift)),
  z.strictObject({ type: z.literal('discounted_thompson'), ...thompsonBase, ...discountField })
    .superRefine(checkPrior)
    .transform((v) => withPolicy(thompsonParams(v), v.min_share, discount(v.gamma))),
  z.strictObject({ type: z.literal('sliding_thompson'), ...thompsonBase, ...slidingField })
    .superRefine(checkPrior)
    .transform((v) => withPolicy(thompsonParams(v), v.min_share, sliding(v.size))),
  z.strictObject({ type: z.literal('ucb1'), ...ucb1Base, ...driftField })
    .transform((v) => withPolicy(ucb1Params(v), v.min_share, v.drift)),
  z.strictObject({ type: z.literal('discounted_ucb1'), ...ucb1Base, ...discountField })
    .transform((v) => withPolicy(ucb1Params(v), v.min_share, discount(v.gamma))),
  z.strictObject({ type: z.literal('sliding_ucb1'), ...ucb1Base, ...slidingField })
    .transform((v) => withPolicy(ucb1Params(v), v.min_share, sliding(v.size))),
  z.strictObject({ type: z.literal('epsilon_greedy'), ...epsilonBase, ...driftField })
    .transform((v) => withPolicy(epsilonParams(v), v.min_share, v.drift)),
  z.strictObject({ type: z.literal('discounted_epsilon_greedy'), ...epsilonBase, ...discountField })
    .transform((v) => withPolicy(epsilonParams(v), v.min_share, discount(v.gamma))),
  z.strictObject({ type: z.literal('sliding_epsilon_greedy'), ...epsilonBase, ...slidingField })
    .transform((v) => withPolicy(epsilonParams(v), v.min_share, sliding(v.size))),
  z.strictObject({ type: z.literal('static'), weights: weightsSchema, min_share: baselineMinShare })
    .transform((v) => withPolicy({ type: 'static', weights: v.weights }, v.min_share, { mode: 'none' })),
  z.strictObject({ type: z.literal('fixed'), arm: z.string().min(1), min_share: baselineMinShare })
    .transform((v) => withPolicy({ type: 'fixed', arm: v.arm }, v.min_share, { mode: 'none' })),
  z.strictObject({ type: z.literal('linucb'), alpha: nonNegative.default(DEFAULT_LINUCB_ALPHA), lambda: z.number().gt(0).default(DEFAULT_RIDGE_LAMBDA), min_share: learningMinShare, ...contextualDriftField })
    .transform((v) => withPolicy({ type: 'linucb', alpha: v.alpha, lambda: v.lambda }, v.min_share, v.drift)),
  z.strictObject({ type: z.literal('lints'), v: z.number().gt(0).default(DEFAULT_LINTS_V), lambda: z.number().gt(0).default(DEFAULT_RIDGE_LAMBDA), min_share: learningMinShare, ...contextualDriftField })
    .transform((v) => withPolicy({ type: 'lints', v: v.v, lambda: v.lambda }, v.min_share, v.drift)),
]);

// ---------- contextual features (docs/contextual.md) ----------


const featureBase = {
  name: z.string().regex(NAME_RE, 'use letters, digits, ".", "_" and "-"'),
  header: z.string().regex(HTTP_TOKEN_RE, 'must be an HTTP header name').transform((h) => h.toLowerCase()),
};

const numericSchema = z.discriminatedUnion('transform', [
  z.strictObject({ ...featureBase, type: z.literal('numeric'), transform: z.literal('log'), scale: z.number().gt(0) }),
  z
    .strictObject({ ...featureBase, type: z.literal('numeric'), transform: z.literal('clip'), min: z.number(), max: z.number() })
    .refine((f) => f.max > f.min, { message: 'max must be greater than min', path: ['max'] }),
  z
    .strictObject({ ...featureBase, type: z.literal('numeric'), transform: z.literal('bucket'), edges: z.array(z.number()).min(1).max(MAX_FEATURE_DIM - 2) })
    .refine((f) => f.edges.every((e, i, all) => i === 0 || e > (all[i - 1] ?? Number.NEGATIVE_INFINITY)), { message: 'edges must be strictly increasing', path: ['edges'] }),
]);

const featureSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...featureBase, type: z.literal('categorical'), buckets: z.number().int().min(1).max(MAX_FEATURE_DIM - 1).default(D.DEFAULT_CATEGORICAL_BUCKETS) }),
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

// ---------- route sections ----------

const matchSchema = z.strictObject({
  path_prefix: z.string().startsWith('/', { error: (iss) => `must start with "/", got ${describeValue(iss.input)}` }).nullable().default(null),
  authority: z.string().min(1).nullable().default(null),
  header: z.strictObject({ name: headerName, value: z.string() }).nullable().default(null),
});
const EMPTY_MATCH = { path_prefix: null, authority: null, header: null };

/** Headers an arm may not set: the steering and identity headers the sidecar owns, and what Envoy derives routing from. */
export const RESERVED_REWRITE_HEADERS = ['x-bandit-cluster', 'x-bandit-decision-id', 'x-bandit-arm', 'host', 'content-length', 'transfer-encoding'];
function rewriteHeaderProblem(name: string): string | undefined {
  if (!HTTP_TOKEN_RE.test(name)) return `invalid header name ${describeValue(name)}: not an HTTP token`;
  if (RESERVED_REWRITE_HEADERS.includes(name.toLowerCase())) {
    return `header ${describeValue(name)} cannot be rewritten (${RESERVED_REWRITE_HEADERS.join(', ')} are reserved; set the Host/:authority with host:)`;
  }
  return undefined;
}
/** A mapping keyed by header name: names checked (path names the key) and lower-cased, as Envoy hands them over. */
function headerMap<T extends z.ZodType>(value: T) {
  return z
    .record(z.string(), value)
    .superRefine((m, ctx) => {
      for (const key of Object.keys(m)) {
        const problem = rewriteHeaderProblem(key);
        if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
      }
    })
    .transform((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v])) as Record<string, z.output<T>>);
}
/** Printable ASCII without CR/LF: what may travel in a header value. */
const HEADER_VALUE_RE = /^[\x20-\x7e\t]*$/;
const headerValue = z.string().regex(HEADER_VALUE_RE, { error: 'header values must be printable ASCII without line breaks' });

const armRewriteSchema = z.strictObject({
  host: z.string().min(1).regex(/^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$/, { error: (iss) => `invalid host ${describeValue(iss.input)}: expected name or name:port` }).nullable().default(null),
  headers: headerMap(headerValue).default({}),
  secret_headers: headerMap(z.strictObject({ file: filePath, prefix: headerValue.default('') })).default({}),
  model: z.string().min(1).nullable().default(null),
});

const armSchema = z.strictObject({
  name: name('arm'),
  cluster,
  cost: nonNegative.default(D.DEFAULT_ARM_COST),
  rewrite: armRewriteSchema.nullable().default(null),
});

const bodyRewriteSchema = z.strictObject({
  max_bytes: z.int().min(1).max(64 * 1024 * 1024).default(D.DEFAULT_BODY_REWRITE_MAX_BYTES),
});

const stickySchema = z
  .strictObject({
    header: headerName.nullable().default(D.DEFAULT_STICKY_HEADER),
    cookie: cookieName.nullable().default(D.DEFAULT_STICKY_COOKIE),
    ttl: duration().default(D.DEFAULT_STICKY_TTL_MS),
    max_sessions: z.int().min(1).max(D.MAX_STICKY_SESSIONS).default(D.DEFAULT_STICKY_MAX_SESSIONS),
    pin_header: headerName.nullable().default(D.DEFAULT_STICKY_PIN_HEADER),
  })
  .superRefine((s, ctx) => {
    if (s.header === null && s.cookie === null) {
      ctx.addIssue({ code: 'custom', path: ['header'], message: 'sticky needs a header or a cookie (or set sticky: null to disable it)' });
    }
    if (s.pin_header !== null && s.pin_header === s.header) {
      ctx.addIssue({ code: 'custom', path: ['pin_header'], message: `must differ from the session header (${s.header})` });
    }
  })
  .transform(({ ttl, ...rest }) => ({ ...rest, ttl_ms: ttl }));

const grpcCode = z.int({ error: (iss) => `invalid gRPC status ${describeValue(iss.input)}: expected an integer 0..16` }).min(0).max(16);

const outcomesSchema = z
  .strictObject({
    source: z.enum(D.OUTCOME_SOURCES).default(D.DEFAULT_OUTCOME_SOURCE),
    max_pending: z.int().min(1).default(D.DEFAULT_OUTCOMES_MAX_PENDING),
    pending_ttl: duration().default(D.DEFAULT_OUTCOMES_PENDING_TTL_MS),
  })
  .transform(({ pending_ttl, ...rest }) => ({ ...rest, pending_ttl_ms: pending_ttl }));

const rewardSchema = z.strictObject({
  success: z
    .strictObject({
      statuses: z.array(statusPattern).min(1).default([...D.DEFAULT_SUCCESS_STATUSES]),
      grpc_statuses: z.array(grpcCode).min(1).default([...D.DEFAULT_SUCCESS_GRPC_STATUSES]),
    })
    .prefault({}),
  latency: z
    .strictObject({ slo: duration(), measure: z.enum(['ttfb', 'total']).default(D.DEFAULT_LATENCY_MEASURE) })
    .transform((l) => ({ slo_ms: l.slo, measure: l.measure }))
    .nullable()
    .default(null),
  header: headerName.nullable().default(null),
  weights: z
    .strictObject({
      success: nonNegative.default(D.DEFAULT_REWARD_WEIGHTS.success),
      latency: nonNegative.default(D.DEFAULT_REWARD_WEIGHTS.latency),
      header: nonNegative.default(D.DEFAULT_REWARD_WEIGHTS.header),
      cost: nonNegative.default(D.DEFAULT_REWARD_WEIGHTS.cost),
    })
    .refine((w) => w.success + w.latency + w.header + w.cost > 0, { error: 'reward weights must not all be 0' })
    .prefault({}),
  feedback: z
    .strictObject({
      wait: duration().default(D.DEFAULT_FEEDBACK_WAIT_MS),
      default: fraction.nullable().default(null),
    })
    .transform(({ wait, ...rest }) => ({ ...rest, wait_ms: wait }))
    .nullable()
    .default(null),
});

const guardrailsSchema = z
  .strictObject({
    min_samples: z.int().min(1).default(D.DEFAULT_GUARDRAIL_MIN_SAMPLES),
    window: duration().default(D.DEFAULT_GUARDRAIL_WINDOW_MS),
    error_rate: z.strictObject({ max: fraction.default(D.DEFAULT_GUARDRAIL_ERROR_RATE_MAX) }).nullable().prefault({}),
    latency_p95: z
      .strictObject({ max: duration().default(D.DEFAULT_GUARDRAIL_LATENCY_P95_MAX_MS) })
      .transform((l) => ({ max_ms: l.max }))
      .nullable()
      .prefault({}),
    ewma: z
      .strictObject({
        alpha: z.number().gt(0).max(1).default(D.DEFAULT_GUARDRAIL_EWMA.alpha),
        sigmas: z.number().gt(0).default(D.DEFAULT_GUARDRAIL_EWMA.sigmas),
      })
      .nullable()
      .default(null), // off unless configured: the sequential test subsumes it (docs/guardrails.md)
    sequential: z
      .strictObject({
        threshold: z
          .number()
          .min(1, 'the threshold is a log-likelihood ratio; below 1 a single error trips the arm (the default 19 allows one false trip per 144 days per chart at 200 req/s)')
          .max(100)
          .default(D.DEFAULT_GUARDRAIL_SEQUENTIAL.threshold),
        shift: z.number().gt(0, 'shift is the rise in error rate to detect, a fraction in (0, 0.9]').max(0.9).default(D.DEFAULT_GUARDRAIL_SEQUENTIAL.shift),
      })
      .nullable()
      .prefault({}),
    count_client_errors: z.boolean().default(D.DEFAULT_GUARDRAIL_COUNT_CLIENT_ERRORS),
    action: z.enum(['quarantine', 'alert_only']).default(D.DEFAULT_GUARDRAIL_ACTION),
    cooldown: duration({ allowZero: true }).default(D.DEFAULT_GUARDRAIL_COOLDOWN_MS),
  })
  .transform(({ window, cooldown, ...rest }) => ({ ...rest, window_ms: window, cooldown_ms: cooldown }));

const sloSchema = z
  .strictObject({
    objective: z.number().gt(0).lt(1),
    window: duration().default(D.DEFAULT_SLO_WINDOW_MS),
    throttle_below: fraction.default(D.DEFAULT_SLO_THROTTLE_BELOW),
    stop_below: fraction.default(D.DEFAULT_SLO_STOP_BELOW),
  })
  .refine((s) => s.stop_below < s.throttle_below, { message: 'stop_below must be below throttle_below', path: ['stop_below'] })
  .transform(({ window, ...rest }) => ({ ...rest, window_ms: window }));

const routeSchema = z
  .strictObject({
    name: name('route'),
    match: matchSchema.nullable().prefault({}),
    arms: z.array(armSchema).min(1),
    default_arm: z.string().min(1).optional(),
    policy: policySchema.prefault({ type: 'thompson' }),
    sticky: stickySchema.nullable().prefault({}),
    reward: rewardSchema.prefault({}),
    guardrails: guardrailsSchema.nullable().prefault({}),
    allow_force_arm: z.boolean().default(false),
    features: featuresSchema.nullable().default(null),
    slo: sloSchema.nullable().default(null),
    warm_start: z
      .strictObject({
        from: filePath,
        kind: z.enum(['decision_log', 'snapshot']),
        effective_samples: z.number().gt(0).default(D.DEFAULT_WARM_START_EFFECTIVE_SAMPLES),
        route: z.string().min(1).nullable().default(null),
      })
      .nullable()
      .default(null),
    body_rewrite: bodyRewriteSchema.nullable().default(null),
  })
  .transform((r): RouteConfig => {
    let policy = r.policy;
    if (policy.type === 'static') {
      // arms the weights leave out get weight 0, so consumers never look up a missing arm
      const weights: Record<string, number> = {};
      for (const arm of r.arms) weights[arm.name] = policy.weights[arm.name] ?? 0;
      policy = { ...policy, weights };
    }
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the schema requires at least one arm (arms: min 1)
    return { ...r, match: r.match ?? { ...EMPTY_MATCH }, default_arm: r.default_arm ?? r.arms[0]!.name, policy, features: r.features as FeatureSpec[] | null };
  });

// ---------- top-level sections ----------

const aggregatorSchema = z
  .strictObject({
    address: listenAddress.default(D.DEFAULT_AGGREGATOR_ADDRESS),
    batch: z.int().min(1).default(D.DEFAULT_AGGREGATOR_BATCH),
    flush: duration().default(D.DEFAULT_AGGREGATOR_FLUSH_MS),
    buffer: z.int().min(1).default(D.DEFAULT_AGGREGATOR_BUFFER),
    log_file: filePath.nullable().default(null),
    fsync: z.enum(['always', 'batch', 'none']).default(D.DEFAULT_AGGREGATOR_FSYNC),
    log_max_bytes: z.int().min(4096).nullable().default(D.DEFAULT_AGGREGATOR_LOG_MAX_BYTES),
    log_keep: z.int().min(1).max(D.MAX_ROTATED_FILES).default(D.DEFAULT_AGGREGATOR_LOG_KEEP),
  })
  .superRefine((a, ctx) => {
    if (a.buffer < a.batch) ctx.addIssue({ code: 'custom', path: ['buffer'], message: `must be ≥ batch (${a.batch}), got ${a.buffer}` });
  })
  .transform(({ flush, ...rest }) => ({ ...rest, flush_ms: flush }));

const dnsName = z.string().refine((s) => parseAddress(s)?.kind === 'tcp' || parseAddress(`${s}:1`)?.kind === 'tcp', {
  error: (iss) => `invalid DNS name ${describeValue(iss.input)}: expected name or name:port`,
});

const gossipSchema = z
  .strictObject({
    listen: address({ unix: false, portZero: true }).default(D.DEFAULT_GOSSIP_LISTEN),
    peers: z.array(peerAddress).default([]),
    dns: dnsName.nullable().default(null),
    interval: duration().default(D.DEFAULT_GOSSIP_INTERVAL_MS),
    fanout: z.int().min(1).default(D.DEFAULT_GOSSIP_FANOUT),
    secret_file: filePath.nullable().default(null),
    sync_timeout: duration({ allowZero: true }).default(D.DEFAULT_GOSSIP_SYNC_TIMEOUT_MS),
  })
  .transform(({ interval, sync_timeout, ...rest }) => ({ ...rest, interval_ms: interval, sync_timeout_ms: sync_timeout }));

const tlsSchema = z
  .strictObject({
    cert: filePath,
    key: filePath,
    ca: filePath,
    reload: duration().default(D.DEFAULT_TLS_RELOAD_MS),
  })
  .transform(({ reload, ...rest }) => ({ ...rest, reload_ms: reload }));

const httpUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { error: (iss) => `invalid URL ${describeValue(iss.input)}: expected http://… or https://…` },
);

const notificationsSchema = z
  .strictObject({
    webhooks: z
      .array(
        z.strictObject({
          url: httpUrl,
          format: z.enum(D.WEBHOOK_FORMATS).default(D.DEFAULT_WEBHOOK_FORMAT),
          events: z.array(z.enum(D.NOTIFY_EVENT_KINDS)).min(1).default([...D.NOTIFY_EVENT_KINDS]),
          bearer_token_file: filePath.nullable().default(null),
        }),
      )
      .default([]),
    kubernetes_events: z.enum(['auto', 'off']).default(D.DEFAULT_KUBERNETES_EVENTS),
    timeout: duration().default(D.DEFAULT_NOTIFY_TIMEOUT_MS),
    retries: z.int().min(0).max(10).default(D.DEFAULT_NOTIFY_RETRIES),
    queue: z.int().min(1).max(100_000).default(D.DEFAULT_NOTIFY_QUEUE),
    settle: duration({ allowZero: true }).default(D.DEFAULT_NOTIFY_SETTLE_MS),
  })
  .transform(({ timeout, settle, ...rest }) => ({ ...rest, timeout_ms: timeout, settle_ms: settle }));

export interface SchemaOptions {
  /** replica_id when the config gives none. */
  hostname: string;
}

export function buildConfigSchema(opts: SchemaOptions) {
  return z.strictObject({
    replica_id: z
      .string()
      .regex(REPLICA_ID_RE, { error: (iss) => `invalid replica_id ${describeValue(iss.input)}: use letters, digits, '.', '_' and '-'` })
      .default(opts.hostname),
    listen: z
      .strictObject({
        ext_proc: listenAddress.default(D.DEFAULT_EXTPROC_LISTEN),
        admin: listenAddress.default(D.DEFAULT_ADMIN_LISTEN),
        ext_proc_transport: z.enum(D.EXTPROC_TRANSPORTS).default(D.DEFAULT_EXTPROC_TRANSPORT),
      })
      .prefault({}),
    routes: z.array(routeSchema).min(1),
    outcomes: outcomesSchema.prefault({}),
    aggregator: aggregatorSchema.nullable().default(null),
    gossip: gossipSchema.nullable().default(null),
    state: z
      .strictObject({
        snapshot_file: filePath.nullable().default(null),
        interval: duration().default(D.DEFAULT_STATE_INTERVAL_MS),
        slot_expiry: duration().default(D.DEFAULT_SLOT_EXPIRY_MS),
      })
      .transform(({ interval, slot_expiry, ...rest }) => ({ ...rest, interval_ms: interval, slot_expiry_ms: slot_expiry }))
      .prefault({}),
    admin: z.strictObject({ token_file: filePath.nullable().default(null) }).prefault({}),
    decision_ids: z.strictObject({ secret_file: filePath.nullable().default(null) }).prefault({}),
    log: z
      .strictObject({
        level: z.enum(D.LOG_LEVELS as [Config['log']['level'], ...Config['log']['level'][]]).default(D.DEFAULT_LOG_LEVEL),
        decisions_file: filePath.nullable().default(null),
        decisions_max_bytes: z.int().min(1).default(D.DEFAULT_DECISIONS_MAX_BYTES),
        decisions_keep: z.int().min(1).max(D.MAX_ROTATED_FILES).default(D.DEFAULT_DECISIONS_KEEP),
      })
      .prefault({}),
    notifications: notificationsSchema.prefault({}),
    tls: tlsSchema.nullable().default(null),
  });
}

/** Compile-time guard: the schema's output is exactly the normalized Config. */
type SchemaOutput = z.output<ReturnType<typeof buildConfigSchema>>;
type Equals<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesConfig: Equals<SchemaOutput, Config> = true;
void schemaMatchesConfig;
