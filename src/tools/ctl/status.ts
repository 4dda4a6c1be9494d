/**
 * `ctl status`: one replica's view of every route (from GET /v1/routes) joined
 * with the slots its fleet view is made of (GET /v1/fleet). With several
 * `--admin` replicas, each arm also says which of them agree on its state.
 */
import type { AdminClient } from './client.js';

export interface RoutesReply {
  replica: string;
  time: number;
  routes: Array<{
    name: string;
    mode: string;
    default_arm: string;
    policy: { type: string };
    arms: Array<{ name: string; state: string; share: number; mean: number; samples: number; quarantine: Array<{ rule: string; replica: string }> | null }>;
  }>;
}

export interface FleetReply {
  replica: string;
  time: number;
  slots: Array<{
    replica: string;
    self: boolean;
    version: number;
    updated_at: number;
    staleness_ms: number | null;
    samples: Record<string, Record<string, number>>;
  }>;
}

export interface ArmStatus {
  arm: string;
  state: string;
  share: number;
  mean: number;
  samples: number;
  /** Replicas whose slot holds samples for this arm (they make up the fleet view). */
  replicas: string[];
  /** Queried replicas that report the same route mode and arm state as the first one. */
  agree: string[];
  disagree: string[];
  quarantined_by: string[];
}

export interface RouteStatus {
  route: string;
  mode: string;
  policy: string;
  default_arm: string;
  arms: ArmStatus[];
}

export interface ReplicaStatus {
  replica: string;
  self: boolean;
  version: number;
  samples: number;
  /** Milliseconds since the slot last advanced on the queried replica (0 for itself); null if never heard. */
  staleness_ms: number | null;
}

export interface StatusView {
  admin: string;
  replica: string;
  time: number;
  replicas: ReplicaStatus[];
  routes: RouteStatus[];
  /** Every queried replica (several `--admin`): its id, or the error that kept it from answering. */
  queried: Array<{ admin: string; replica: string | null; error: string | null }>;
}

interface Fetched {
  admin: string;
  routes: RoutesReply | null;
  error: string | null;
}

/** Reads every replica given; the first one that answers is the view shown. */
export async function gatherStatus(clients: readonly AdminClient[]): Promise<{ view: StatusView; errors: string[] }> {
  const fetched: Fetched[] = await Promise.all(
    clients.map(async (c) => {
      try {
        return { admin: c.base, routes: await c.get<RoutesReply>('/v1/routes'), error: null };
      } catch (e) {
        return { admin: c.base, routes: null, error: (e as Error).message };
      }
    }),
  );
  const primaryIdx = fetched.findIndex((f) => f.routes !== null);
  if (primaryIdx < 0) throw new AggregateStatusError(fetched.map((f) => f.error!));
  const primary = fetched[primaryIdx]!;
  const fleet = await clients[primaryIdx]!.get<FleetReply>('/v1/fleet');
  return { view: buildView(primary.admin, primary.routes!, fleet, fetched), errors: fetched.filter((f) => f.error).map((f) => f.error!) };
}

export class AggregateStatusError extends Error {
  constructor(readonly errors: string[]) {
    super(errors.join('\n'));
  }
}

export function buildView(admin: string, routes: RoutesReply, fleet: FleetReply, all: readonly Fetched[]): StatusView {
  const answered = all.filter((f) => f.routes !== null);
  const replicas: ReplicaStatus[] = fleet.slots
    .map((s) => ({
      replica: s.replica,
      self: s.self,
      version: s.version,
      samples: Object.values(s.samples).reduce((t, arms) => t + Object.values(arms).reduce((a, n) => a + n, 0), 0),
      staleness_ms: s.staleness_ms,
    }))
    .sort((a, b) => a.replica.localeCompare(b.replica));
  return {
    admin,
    replica: routes.replica,
    time: routes.time,
    replicas,
    queried: all.map((f) => ({ admin: f.admin, replica: f.routes?.replica ?? null, error: f.error })),
    routes: routes.routes.map((r) => ({
      route: r.name,
      mode: r.mode,
      policy: r.policy.type,
      default_arm: r.default_arm,
      arms: r.arms.map((a) => {
        const same = (f: Fetched) => {
          const other = f.routes!.routes.find((x) => x.name === r.name);
          return other?.mode === r.mode && other.arms.find((x) => x.name === a.name)?.state === a.state;
        };
        return {
          arm: a.name,
          state: a.state,
          share: a.share,
          mean: a.mean,
          samples: a.samples,
          replicas: fleet.slots.filter((s) => (s.samples[r.name]?.[a.name] ?? 0) > 0).map((s) => s.replica).sort(),
          agree: answered.filter(same).map((f) => f.routes!.replica),
          disagree: answered.filter((f) => !same(f)).map((f) => f.routes!.replica),
          quarantined_by: [...new Set((a.quarantine ?? []).map((q) => q.replica))].sort(),
        };
      }),
    })),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * A sample count for the table. Drift forms fade evidence, so counts are
 * fractional: whole numbers from 10 up, one decimal below (0.4 is not 0).
 */
export function formatSamples(n: number): string {
  if (Number.isInteger(n) || n >= 10) return String(Math.round(n));
  return n.toFixed(1);
}

export function formatAge(ms: number | null): string {
  if (ms === null) return 'never';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 60_000)}m`;
}

/** Left-aligned columns, two spaces apart. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

/** The human table. */
export function renderStatus(v: StatusView): string[] {
  const out: string[] = [];
  out.push(`replica ${v.replica} via ${v.admin} at ${new Date(v.time).toISOString()}`);
  const multi = v.queried.length > 1;
  for (const q of v.queried) if (q.error) out.push(`  unreachable: ${q.error}`);
  out.push('');
  out.push(`fleet view: ${v.replicas.length} replica slot${v.replicas.length === 1 ? '' : 's'}`);
  out.push(
    ...table([
      // The slot version (time-based, ~10^15) stays in --json; the table shows what an operator reads: age.
      ['  REPLICA', 'SAMPLES', 'LAST CHANGE SEEN'],
      ...v.replicas.map((r) => [`  ${r.replica}${r.self ? ' (this)' : ''}`, formatSamples(r.samples), r.self ? 'now' : `${formatAge(r.staleness_ms)} ago`]),
    ]),
  );
  for (const r of v.routes) {
    out.push('');
    out.push(`route ${r.route}  mode ${r.mode}  policy ${r.policy}  default ${r.default_arm}`);
    out.push(
      ...table([
        ['  ARM', 'STATE', 'SHARE', 'MEAN', 'SAMPLES', 'REPLICAS', multi ? 'AGREE' : ''],
        ...r.arms.map((a) => [
          `  ${a.arm}`,
          a.quarantined_by.length === 0 ? a.state : `${a.state === 'quarantined' ? 'quarantined' : `${a.state}, quarantined`} by ${a.quarantined_by.join(',')}`,
          pct(a.share),
          a.mean.toFixed(3),
          formatSamples(a.samples),
          a.replicas.length === 0 ? '-' : a.replicas.length === v.replicas.length && v.replicas.length > 1 ? `all ${a.replicas.length}` : a.replicas.join(','),
          multi ? (a.disagree.length ? `${a.agree.length}/${a.agree.length + a.disagree.length} (differs: ${a.disagree.join(',')})` : `${a.agree.length}/${a.agree.length}`) : '',
        ]),
      ]),
    );
  }
  return out;
}
