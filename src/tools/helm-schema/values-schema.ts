/**
 * The Helm chart's values.schema.json: the chart's own settings, and under
 * `config` the sidecar's routes, notifications and log settings as the
 * config loader's zod schema defines them (input form: durations as strings).
 * So `helm install/upgrade/lint/template` rejects a bad route with its path
 * before anything reaches a cluster. Regenerate with
 * `node dist/src/tools/helm-schema/write.js` after changing the config schema;
 * a test fails while the committed file differs.
 */
import { z } from 'zod';
import { buildConfigSchema } from '../../config/schema.js';

/** Sections of the sidecar config the chart takes from values; the rest (listen, gossip, secrets, state) it renders itself. */
export const CHART_CONFIG_SECTIONS = ['routes', 'notifications', 'log'] as const;

type Json = Record<string, unknown>;

/** zod emits `format: starts_with` for startsWith(); JSON Schema validators do not know it (the pattern says the same). */
function dropUnknownFormats(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropUnknownFormats);
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    if (k === 'format' && x === 'starts_with') continue;
    out[k] = dropUnknownFormats(x);
  }
  return out;
}

const str = { type: 'string' };
const bool = { type: 'boolean' };
const int = (minimum = 0) => ({ type: 'integer', minimum });
const obj = (properties: Json, extra: Json = {}) => ({ type: 'object', properties, additionalProperties: false, ...extra });
const anyObj = { type: 'object' };
const image = obj({ repository: { type: 'string', minLength: 1 }, tag: str, digest: { type: 'string', pattern: '^(|sha256:[a-f0-9]{64})$' }, pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] } });

export function helmValuesSchema(): Json {
  const full = z.toJSONSchema(buildConfigSchema({ hostname: 'replica' }), { io: 'input', unrepresentable: 'any' }) as Json & { properties: Json };
  const configProps: Json = {};
  for (const k of CHART_CONFIG_SECTIONS) configProps[k] = dropUnknownFormats(full.properties[k]);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'envoy-bandit Helm values',
    type: 'object',
    required: ['config', 'backends'],
    properties: {
      nameOverride: str,
      fullnameOverride: str,
      image,
      envoyImage: image,
      imagePullSecrets: { type: 'array' },
      config: obj(configProps, { required: ['routes'] }),
      backends: {
        type: 'object',
        description: 'Envoy cluster name → host:port of the model Service each arm routes to',
        minProperties: 1,
        propertyNames: { pattern: '^[A-Za-z0-9_.:|-]{1,255}$' },
        additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9.-]+:[0-9]{1,5}$' },
      },
      envoy: obj({ routeTimeout: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?s$' }, messageTimeout: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?s$' }, logLevel: { enum: ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] }, resources: anyObj }),
      secrets: obj({ existingSecret: str, gossipSecret: str, decisionIdSecret: str, adminToken: str }),
      router: obj({
        replicas: int(1),
        resources: anyObj,
        sidecarResources: anyObj,
        podAnnotations: anyObj,
        nodeSelector: anyObj,
        tolerations: { type: 'array' },
        affinity: anyObj,
        topologySpreadConstraints: { type: 'array' },
        service: obj({ type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] }, port: int(1) }),
        pdb: obj({ enabled: bool, maxUnavailable: { type: ['integer', 'string'] } }),
        hpa: obj({ enabled: bool, minReplicas: int(1), maxReplicas: int(1), targetCPUUtilizationPercentage: int(1) }),
        terminationGracePeriodSeconds: int(1),
      }),
      aggregator: obj({
        enabled: bool,
        externalAddress: { type: 'string', pattern: '^(|[A-Za-z0-9.-]+:[0-9]{1,5})$' },
        resources: anyObj,
        persistence: obj({ size: str, storageClass: str }),
        nodeSelector: anyObj,
        tolerations: { type: 'array' },
        affinity: anyObj,
      }),
      gossip: obj({ interval: str, fanout: int(1) }),
      serviceAccount: obj({ create: bool, name: str, kubernetesEvents: bool }),
      networkPolicy: obj({ enabled: bool, clientsFrom: { type: 'array' }, metricsFrom: { type: 'array' }, adminFrom: { type: 'array' } }),
      monitoring: obj({
        podMonitor: obj({ enabled: bool, interval: str, labels: anyObj }),
        serviceMonitor: obj({ enabled: bool, interval: str, labels: anyObj }),
        prometheusRule: obj({ enabled: bool, labels: anyObj, runbookBaseUrl: str }),
      }),
    },
    additionalProperties: false,
  };
}
