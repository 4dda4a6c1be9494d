/**
 * The notifications component: webhooks from `notifications.webhooks`, and
 * Kubernetes Events when `kubernetes_events: auto` finds a service account.
 * Listens on the sidecar's event bus from start to stop.
 */
import { fileIssue, formatPath, issuesError } from '../config/issues.js';
import type { ConfigIssue, NotificationsConfig } from '../config/types.js';
import { err, ok, type Result } from '../util/errors.js';
import type { ComponentFactory } from '../runtime/component.js';
import { DEFAULT_NOTIFY_BACKOFF_MS } from '../config/defaults.js';
import { Delivery, type Target } from './delivery.js';
import { Notifier } from './notifier.js';
import { detectInCluster, kubernetesTarget, webhookTarget } from './targets.js';
import { readHeaderValue } from '../util/secret.js';

/** How long stop() lets queued notices go out. */
export const NOTIFY_STOP_GRACE_MS = 2_000;

/** Each webhook's bearer token (null without a token file), or every unusable token file at its config path. */
export async function loadWebhookTokens(n: NotificationsConfig): Promise<Result<(string | null)[], ConfigIssue[]>> {
  const tokens: (string | null)[] = [];
  const issues: ConfigIssue[] = [];
  for (const [i, w] of n.webhooks.entries()) {
    if (!w.bearer_token_file) {
      tokens.push(null);
      continue;
    }
    const r = await readHeaderValue(w.bearer_token_file);
    if (r.ok) tokens.push(r.value);
    else issues.push(fileIssue(formatPath(['notifications', 'webhooks', i, 'bearer_token_file']), r.error));
  }
  return issues.length > 0 ? err(issues) : ok(tokens);
}

export const notifyComponent: ComponentFactory = (ctx) => {
  const n = ctx.config.notifications;
  if (n.webhooks.length === 0 && n.kubernetes_events === 'off') return null;
  let notifier: Notifier | null = null;
  let unsubscribe: (() => void) | null = null;
  return {
    name: 'notifications',
    async start() {
      const log = ctx.logger.child({ component: 'notifications' });
      const targets: Target[] = [];
      const tokens = await loadWebhookTokens(n);
      if (!tokens.ok) throw issuesError(tokens.error);
      for (const [i, w] of n.webhooks.entries()) {
        targets.push(webhookTarget({ url: w.url, format: w.format, events: w.events, bearerToken: tokens.value[i] ?? null }));
      }
      if (n.kubernetes_events === 'auto') {
        const c = await detectInCluster(ctx.env);
        if ('reason' in c) log.debug({ reason: c.reason }, 'not in a Kubernetes cluster: no Kubernetes Events');
        else {
          targets.push(kubernetesTarget(c, (error) => log.warn({ error, namespace: c.namespace }, 'the service account may not create Events; Kubernetes Events are off (grant create on events, or set notifications.kubernetes_events: off)')));
          log.info({ namespace: c.namespace, pod: c.pod }, 'posting Kubernetes Events');
        }
      }
      const deliveries = targets.map(
        (t) =>
          new Delivery(t, {
            queue: n.queue,
            retries: n.retries,
            timeoutMs: n.timeout_ms,
            backoffMs: DEFAULT_NOTIFY_BACKOFF_MS,
            logger: log,
            count: (target, outcome) => ctx.metrics.notifications.inc({ target, outcome }),
          }),
      );
      const engine = ctx.engine;
      notifier = new Notifier(
        {
          replica: ctx.config.replica_id,
          clock: ctx.clock,
          settleMs: n.settle_ms,
          logger: log,
          flags: (route, arm) => {
            const r = engine.route(route);
            const a = r?.armIndex.get(arm);
            return r && a !== undefined ? engine.quarantineFlags(r, a, ctx.clock.now()) : [];
          },
        },
        deliveries,
      );
      const nn = notifier;
      unsubscribe = ctx.events.subscribe((e) => nn.onEvent(e));
      log.info({ targets: targets.map((t) => t.name) }, 'notifications on');
    },
    async stop() {
      unsubscribe?.();
      await notifier?.stop(NOTIFY_STOP_GRACE_MS);
    },
  };
};
