/** Webhook delivery: formats, retries with backoff on 5xx, no retry on 4xx, a timeout per attempt, a bounded queue, failures logged with their code. */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { BanditEvent, Notice } from '../../src/notify/events.js';
import { severityOf, summaryOf } from '../../src/notify/events.js';
import { Delivery, httpResult } from '../../src/notify/delivery.js';
import { alertmanagerBody, slackBody, urlFor } from '../../src/notify/formats.js';
import { webhookTarget } from '../../src/notify/targets.js';
import { createLogger } from '../../src/util/logger.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

const T = 1_700_000_000_000;
const trip: BanditEvent = {
  kind: 'quarantine',
  scope: 'fleet',
  origin: 'trip',
  route: 'chat',
  arm: 'model-b',
  rule: 'error_rate',
  since: T,
  until: T + 60_000,
  readings: [{ rule: 'error_rate', value: 0.5, limit: 0.2, samples: 40 }],
};
const notice = (e: BanditEvent = trip, id = 'quarantine/chat/model-b/1'): Notice => ({ id, event: e, replica: 'r1', time: T, severity: severityOf(e), summary: summaryOf(e) });

let receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.map((r) => r.stop()));
  receivers = [];
});

function delivery(url: string, o: { format?: 'generic' | 'slack' | 'alertmanager'; retries?: number; timeoutMs?: number; queue?: number } = {}) {
  const counts: Record<string, number> = {};
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const d = new Delivery(webhookTarget({ url, format: o.format ?? 'generic', events: ['quarantine', 'release'], bearerToken: 'tok-123' }), {
    queue: o.queue ?? 10,
    retries: o.retries ?? 2,
    timeoutMs: o.timeoutMs ?? 1_000,
    backoffMs: 20,
    logger: createLogger('warn', sink),
    count: (_t, outcome) => (counts[outcome] = (counts[outcome] ?? 0) + 1),
  });
  const undelivered = () => logs.filter((l) => l.msg === 'notification not delivered').map((l) => [l.code, l.error]);
  return { d, counts, undelivered };
}

describe('formats', () => {
  it('generic carries route, arm, rule and readings; summary names route and arm', () => {
    expect(summaryOf(trip)).toMatch(/arm model-b of route chat quarantined by rule error_rate: 0\.5 > 0\.2 over 40 samples/);
  });

  it('slack is a {text}', () => {
    expect(slackBody(notice())).toEqual({ text: expect.stringContaining('arm model-b of route chat') });
  });

  it('alertmanager: a quarantine fires an alert that the release resolves with the same labels', () => {
    const fire = alertmanagerBody(notice())[0]!;
    const release: BanditEvent = { kind: 'release', scope: 'fleet', route: 'chat', arm: 'model-b', how: 'probation_passed' };
    const resolve = alertmanagerBody(notice(release))[0]!;
    expect(fire.labels).toEqual(resolve.labels);
    expect(fire.labels).toMatchObject({ alertname: 'EnvoyBanditArmQuarantined', route: 'chat', arm: 'model-b' });
    expect(fire.endsAt).toBe(new Date(T + 60_000).toISOString());
    expect(Date.parse(resolve.endsAt as string)).toBe(T);
    expect(urlFor('alertmanager', 'http://am:9093')).toBe('http://am:9093/api/v2/alerts');
    expect(urlFor('alertmanager', 'http://am:9093/api/v2/alerts')).toBe('http://am:9093/api/v2/alerts');
  });
});

describe('Delivery', () => {
  it('posts JSON with the bearer token', async () => {
    const r = await startReceiver();
    receivers.push(r);
    const { d, counts } = delivery(r.url);
    d.enqueue(notice());
    await waitFor(() => counts.sent === 1);
    expect(r.received).toHaveLength(1);
    expect(r.received[0]!.headers.authorization).toBe('Bearer tok-123');
    expect(r.received[0]!.body).toMatchObject({ kind: 'quarantine', route: 'chat', arm: 'model-b', rule: 'error_rate', readings: [{ rule: 'error_rate', value: 0.5 }] });
  });

  it('retries 5xx with backoff, and gives up on a 4xx at once', async () => {
    const r = await startReceiver();
    receivers.push(r);
    r.script.push(503, 500);
    const { d, counts, undelivered } = delivery(r.url);
    d.enqueue(notice());
    await waitFor(() => counts.sent === 1);
    expect(r.received).toHaveLength(3);
    // backoff 20 ms, then 40 ms (timers never fire early, so lower bounds hold on a busy machine)
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(19);
    expect(r.received[2]!.at - r.received[1]!.at).toBeGreaterThanOrEqual(39);

    r.script.push(400);
    d.enqueue(notice(trip, 'x'));
    await waitFor(() => counts.failed === 1);
    expect(r.received).toHaveLength(4);
    expect(undelivered()).toEqual([['EB_NOTIFY_REFUSED', 'webhook answered 400']]);
  });

  it('an answer is delivered (2xx) or refused with EB_NOTIFY_REFUSED, retried only on 429 and 5xx', () => {
    for (const status of [200, 202, 299]) expect(httpResult(status, 'webhook')).toEqual({ ok: true, value: undefined });
    const refused = (status: number) => {
      const r = httpResult(status, 'webhook');
      return r.ok ? 'sent' : `${r.error.code} retry=${r.error.retry} ${r.error.message}`;
    };
    expect([301, 400, 404, 429, 500, 503].map(refused)).toEqual([
      'EB_NOTIFY_REFUSED retry=false webhook answered 301',
      'EB_NOTIFY_REFUSED retry=false webhook answered 400',
      'EB_NOTIFY_REFUSED retry=false webhook answered 404',
      'EB_NOTIFY_REFUSED retry=true webhook answered 429',
      'EB_NOTIFY_REFUSED retry=true webhook answered 500',
      'EB_NOTIFY_REFUSED retry=true webhook answered 503',
    ]);
  });

  it('times out a hanging receiver, and drops the oldest notice past the queue bound', async () => {
    const r = await startReceiver({ hang: true });
    receivers.push(r);
    const { d, counts, undelivered } = delivery(r.url, { retries: 0, timeoutMs: 150, queue: 2 });
    for (let i = 0; i < 5; i++) d.enqueue(notice(trip, `n${i}`));
    // enqueue only pushes (sending starts on a later tick): 2 fit, the 3 oldest are dropped
    expect(counts.dropped).toBe(3);
    expect(d.queued).toBe(2);
    await waitFor(() => (counts.failed ?? 0) === 2, 5_000);
    expect(r.received.map((x) => (x.body as { id: string }).id)).toEqual(['n3', 'n4']);
    expect(undelivered()).toEqual([
      ['EB_NOTIFY_UNREACHABLE', 'timed out after 150 ms'],
      ['EB_NOTIFY_UNREACHABLE', 'timed out after 150 ms'],
    ]);
  });
});
