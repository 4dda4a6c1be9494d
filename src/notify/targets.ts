/**
 * The delivery targets: a webhook (generic JSON, Slack-compatible or
 * Alertmanager's v2 API) and Kubernetes Events in the pod's namespace, posted
 * with the pod's service-account token when the sidecar runs in a cluster.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { ErrorCodes, err } from '../util/errors.js';
import type { EventKind, Notice } from './events.js';
import { httpResult, SendFailure, type SendResult, type Target } from './delivery.js';
import { bodyFor, urlFor, type WebhookFormat } from './formats.js';

export interface WebhookOptions {
  url: string;
  format: WebhookFormat;
  events: readonly EventKind[];
  /** Sent as `Authorization: Bearer …` when set. */
  bearerToken: string | null;
}

export function webhookTarget(o: WebhookOptions): Target {
  const url = urlFor(o.format, o.url);
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  const kinds = new Set(o.events);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'envoy-bandit' };
  if (o.bearerToken) headers.authorization = `Bearer ${o.bearerToken}`;
  return {
    kind: 'webhook',
    name: `${o.format} ${shown.origin}${shown.pathname}`,
    wants: (n) => kinds.has(n.event.kind),
    async send(n, signal) {
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(bodyFor(o.format, n)), signal });
      await res.body?.cancel().catch(() => undefined);
      return httpResult(res.status, 'webhook');
    },
  };
}

// ---------- Kubernetes Events ----------

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InCluster {
  host: string;
  port: number;
  token: string;
  ca: Buffer;
  namespace: string;
  pod: string;
  podUid: string | null;
}

/**
 * In a cluster when the API server's address is in the environment
 * (KUBERNETES_SERVICE_HOST/PORT, set by the kubelet) and the service-account
 * token, CA and namespace files are mounted. The pod is POD_NAME (Downward API)
 * or HOSTNAME. Null otherwise, with the reason.
 */
export async function detectInCluster(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): Promise<InCluster | { reason: string }> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = Number(env.KUBERNETES_SERVICE_PORT ?? '443');
  if (!host) return { reason: 'KUBERNETES_SERVICE_HOST is not set' };
  const pod = env.POD_NAME ?? env.HOSTNAME;
  if (!pod) return { reason: 'neither POD_NAME nor HOSTNAME is set' };
  try {
    const [token, ca, namespace] = await Promise.all([
      readFile(join(dir, 'token'), 'utf8'),
      readFile(join(dir, 'ca.crt')),
      env.POD_NAMESPACE ? Promise.resolve(env.POD_NAMESPACE) : readFile(join(dir, 'namespace'), 'utf8'),
    ]);
    return { host, port, token: token.trim(), ca, namespace: namespace.trim(), pod, podUid: env.POD_UID ?? null };
  } catch (e) {
    return { reason: `no service-account files in ${dir}: ${(e as Error).message}` };
  }
}

const REASONS: Record<EventKind, [reason: string, type: 'Normal' | 'Warning']> = {
  quarantine: ['ArmQuarantined', 'Warning'],
  probe_failed: ['ArmProbeFailed', 'Warning'],
  release: ['ArmReleased', 'Normal'],
  pause: ['RoutePaused', 'Normal'],
  resume: ['RouteResumed', 'Normal'],
  reload: ['ConfigReloaded', 'Normal'],
};

export function kubernetesEvent(c: InCluster, n: Notice): Record<string, unknown> {
  let [reason, type] = REASONS[n.event.kind];
  if (n.event.kind === 'reload' && n.event.outcome === 'failure') [reason, type] = ['ConfigReloadFailed', 'Warning'];
  const at = new Date(n.time).toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${c.pod}.envoy-bandit.`, namespace: c.namespace, labels: { 'app.kubernetes.io/part-of': 'envoy-bandit' } },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name: c.pod, namespace: c.namespace, ...(c.podUid ? { uid: c.podUid } : {}) },
    reason,
    type,
    message: n.summary.slice(0, 1024),
    source: { component: 'envoy-bandit' },
    reportingComponent: 'envoy-bandit',
    reportingInstance: c.pod,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

/**
 * Posts core/v1 Events. A 401/403 (the service account may not create
 * events) switches the target off with one warning instead of retrying forever.
 */
export function kubernetesTarget(c: InCluster, onForbidden: (error: string) => void): Target {
  let forbidden = false;
  const path = `/api/v1/namespaces/${encodeURIComponent(c.namespace)}/events`;
  return {
    kind: 'kubernetes',
    name: 'kubernetes',
    wants: () => !forbidden,
    send(n, signal) {
      const body = JSON.stringify(kubernetesEvent(c, n));
      return new Promise<SendResult>((resolve, reject) => {
        const req = request(
          { host: c.host, port: c.port, path, method: 'POST', ca: c.ca, signal, headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              if (status === 401 || status === 403) {
                forbidden = true;
                onForbidden(`the API server answered ${status} to POST ${path}`);
                resolve(err(new SendFailure(ErrorCodes.NOTIFY_REFUSED, `forbidden (${status})`, false)));
              } else resolve(httpResult(status, 'kubernetes API'));
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
  };
}
