/**
 * Request bodies for each webhook format: `generic` (the Notice as JSON),
 * `slack` (an incoming-webhook `{text}`), `alertmanager` (a v2 `postableAlerts`
 * array: a quarantine fires an alert that its release resolves).
 */
import type { WEBHOOK_FORMATS } from '../config/defaults.js';
import type { BanditEvent, Notice } from './events.js';

export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Alertmanager's path for posting alerts; appended to a webhook URL that does not end with it. */
export const ALERTMANAGER_PATH = '/api/v2/alerts';
/** A firing alert with no natural end (pause, failed reload) is re-sent by nobody, so it lasts this long unless resolved. */
export const OPEN_ALERT_MS = 24 * 3600_000;

export function genericBody(n: Notice): Record<string, unknown> {
  return { id: n.id, kind: n.event.kind, severity: n.severity, summary: n.summary, replica: n.replica, time: new Date(n.time).toISOString(), ...fieldsOf(n.event) };
}

/** The event's fields without its discriminators. */
function fieldsOf(e: BanditEvent): Record<string, unknown> {
  const { kind: _kind, ...rest } = e;
  return rest;
}

export function slackBody(n: Notice): Record<string, unknown> {
  const icon = n.severity === 'info' ? ':information_source:' : ':warning:';
  return { text: `${icon} envoy-bandit: ${n.summary} (replica ${n.replica})` };
}

interface AlertShape {
  alertname: string;
  /** true: this notice resolves the alert (endsAt = now). */
  resolves: boolean;
  endsAt: number;
}

function alertShape(n: Notice): AlertShape {
  const e = n.event;
  switch (e.kind) {
    case 'quarantine':
    case 'probe_failed':
      return { alertname: 'EnvoyBanditArmQuarantined', resolves: false, endsAt: e.scope === 'fleet' ? e.until : n.time + OPEN_ALERT_MS };
    case 'release':
      return { alertname: 'EnvoyBanditArmQuarantined', resolves: true, endsAt: n.time };
    case 'pause':
      return { alertname: 'EnvoyBanditRoutePaused', resolves: false, endsAt: n.time + OPEN_ALERT_MS };
    case 'resume':
      return { alertname: 'EnvoyBanditRoutePaused', resolves: true, endsAt: n.time };
    case 'reload':
      return e.outcome === 'failure'
        ? { alertname: 'EnvoyBanditConfigReloadFailed', resolves: false, endsAt: n.time + OPEN_ALERT_MS }
        : { alertname: 'EnvoyBanditConfigReloadFailed', resolves: true, endsAt: n.time };
  }
}

export function alertmanagerBody(n: Notice): Array<Record<string, unknown>> {
  const e = n.event;
  const shape = alertShape(n);
  const labels: Record<string, string> = { alertname: shape.alertname, service: 'envoy-bandit' };
  if ('route' in e) labels.route = e.route;
  if ('arm' in e) labels.arm = e.arm;
  if (e.kind === 'reload') labels.replica = n.replica;
  // severity follows the firing alert, so a resolve carries the same label set
  labels.severity = shape.resolves ? 'warning' : n.severity === 'info' ? 'warning' : n.severity;
  const annotations: Record<string, string> = { summary: n.summary, replica: n.replica, event_id: n.id };
  if ((e.kind === 'quarantine' || e.kind === 'probe_failed') && e.scope === 'fleet') {
    annotations.rule = e.rule;
    annotations.readings = JSON.stringify(e.readings);
  }
  return [{ labels, annotations, startsAt: new Date(shape.resolves ? n.time - 1 : n.time).toISOString(), endsAt: new Date(shape.endsAt).toISOString() }];
}

export function bodyFor(format: WebhookFormat, n: Notice): unknown {
  if (format === 'slack') return slackBody(n);
  if (format === 'alertmanager') return alertmanagerBody(n);
  return genericBody(n);
}

export function urlFor(format: WebhookFormat, url: string): string {
  if (format !== 'alertmanager') return url;
  const u = new URL(url);
  if (!u.pathname.endsWith(ALERTMANAGER_PATH)) u.pathname = u.pathname.replace(/\/$/, '') + ALERTMANAGER_PATH;
  return u.toString();
}
