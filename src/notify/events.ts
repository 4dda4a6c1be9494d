/**
 * Operational events the sidecar reports to people (webhooks, Kubernetes
 * Events): quarantine, failed probe, release, pause, resume, reload. Producers
 * (guardrails, admin, reload) publish to an EventBus and never wait: the
 * notifier delivers from its own queue, off the request path.
 */

export interface EventReading {
  rule: string;
  value: number;
  limit: number;
  samples: number;
}

/**
 * `fleet` events (guardrail trips and releases) are seen by every replica that
 * judges the arm, so the fleet agrees which one reports them (notifier.ts);
 * `local` ones (an operator's call, a reload) happen on one replica, which reports them.
 */
export type BanditEvent =
  | {
      kind: 'quarantine' | 'probe_failed';
      scope: 'fleet';
      /** trip: this replica's guardrail tripped; peer: the arm went into quarantine by another replica's (or an operator's) flag. */
      origin: 'trip' | 'peer';
      route: string;
      arm: string;
      rule: string;
      since: number;
      until: number;
      readings: EventReading[];
    }
  | { kind: 'release'; scope: 'fleet'; route: string; arm: string; how: 'probation_passed' }
  | { kind: 'quarantine' | 'release'; scope: 'local'; route: string; arm: string; how: 'operator'; caller: string }
  | { kind: 'pause' | 'resume'; scope: 'local'; route: string; caller: string }
  | { kind: 'reload'; scope: 'local'; outcome: 'success' | 'failure'; routes?: string[]; issues?: string[] };

export type EventKind = BanditEvent['kind'];

export interface EventSink {
  publish(e: BanditEvent): void;
}

/** Fan-out to whoever listens (the notifier); a bus with no listener drops events at no cost. */
export class EventBus implements EventSink {
  private readonly listeners: Array<(e: BanditEvent) => void> = [];

  subscribe(fn: (e: BanditEvent) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  publish(e: BanditEvent): void {
    for (const fn of this.listeners) fn(e);
  }
}

/** An event as delivered: who reports it and when. */
export interface Notice {
  /** Stable per occurrence (route, arm, kind, trip time): receivers may deduplicate on it. */
  id: string;
  event: BanditEvent;
  replica: string;
  /** Epoch ms. */
  time: number;
  severity: 'critical' | 'warning' | 'info';
  summary: string;
}

export function severityOf(e: BanditEvent): Notice['severity'] {
  if (e.kind === 'quarantine' || e.kind === 'probe_failed') return 'warning';
  if (e.kind === 'reload' && e.outcome === 'failure') return 'warning';
  return 'info';
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(3))));

export function summaryOf(e: BanditEvent): string {
  switch (e.kind) {
    case 'quarantine':
    case 'probe_failed': {
      if (e.scope === 'local') return `arm ${e.arm} of route ${e.route} quarantined by an operator (${e.caller})`;
      const r = e.readings.find((x) => x.rule === e.rule);
      const reading = r ? `: ${fmt(r.value)} > ${fmt(r.limit)} over ${r.samples} samples` : '';
      const what = e.kind === 'quarantine' ? 'quarantined' : 'failed its probe and is quarantined again';
      return `arm ${e.arm} of route ${e.route} ${what} by rule ${e.rule}${reading} until ${new Date(e.until).toISOString()}`;
    }
    case 'release':
      return e.how === 'operator'
        ? `arm ${e.arm} of route ${e.route} released by an operator (${e.caller})`
        : `arm ${e.arm} of route ${e.route} passed its probe and is back in service`;
    case 'pause':
    case 'resume':
      return `route ${e.route} ${e.kind === 'pause' ? 'paused (all traffic to the default arm)' : 'resumed'} by an operator (${e.caller})`;
    case 'reload':
      return e.outcome === 'success'
        ? `config reloaded (routes: ${(e.routes ?? []).join(', ')})`
        : `config reload rejected; the old config keeps serving: ${(e.issues ?? []).slice(0, 3).join('; ')}`;
  }
}
