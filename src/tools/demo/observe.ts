/** Reads what the sidecars say about themselves: GET /v1/routes and the reward counters in /metrics. */

export interface ArmView {
  name: string;
  state: string;
  share: number;
  mean: number;
  samples: number;
  /** Earliest `since` (epoch ms) among the quarantine flags in force, if any. */
  quarantinedSince: number | null;
  quarantineRules: string[];
}

export interface ReplicaView {
  replica: string;
  arms: ArmView[];
  /** Per arm: [reward sum, reward count] for source=response, from /metrics. */
  rewards: Record<string, [number, number]>;
  /** Per arm: guardrail trips (all rules). */
  trips: Record<string, number>;
}

const FETCH_TIMEOUT_MS = 800;

interface RoutesBody {
  replica: string;
  routes: Array<{ name: string; arms: Array<{ name: string; state: string; share: number; mean: number; samples: number; quarantine: Array<{ rule: string; since: number }> | null }> }>;
}

export function parseRoutes(body: RoutesBody, route: string): { replica: string; arms: ArmView[] } | null {
  const r = body.routes.find((x) => x.name === route);
  if (!r) return null;
  return {
    replica: body.replica,
    arms: r.arms.map((a) => ({
      name: a.name,
      state: a.state,
      share: a.share,
      mean: a.mean,
      samples: a.samples,
      quarantinedSince: a.quarantine?.length ? Math.min(...a.quarantine.map((q) => q.since)) : null,
      quarantineRules: a.quarantine?.map((q) => q.rule) ?? [],
    })),
  };
}

const LABELS_RE = /(\w+)="((?:[^"\\]|\\.)*)"/g;

function labelsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(LABELS_RE)) out[m[1]!] = m[2]!;
  return out;
}

/** Reward sums/counts (source=response) and guardrail trips per arm of `route`, from Prometheus text. */
export function parseMetrics(text: string, route: string): Pick<ReplicaView, 'rewards' | 'trips'> {
  const rewards: Record<string, [number, number]> = {};
  const trips: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(envoy_bandit_reward_sum|envoy_bandit_reward_count|envoy_bandit_guardrail_trips_total)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const l = labelsOf(m[2]!);
    if (l.route !== route || l.arm === undefined) continue;
    const v = Number(m[3]);
    if (m[1] === 'envoy_bandit_guardrail_trips_total') {
      trips[l.arm] = (trips[l.arm] ?? 0) + v;
      continue;
    }
    if (l.source !== 'response') continue;
    const slot = (rewards[l.arm] ??= [0, 0]);
    if (m[1] === 'envoy_bandit_reward_sum') slot[0] = v;
    else slot[1] = v;
  }
  return { rewards, trips };
}

async function get(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
}

/** One replica's view, or null when it does not answer in time. */
export async function readReplica(adminPort: number, route: string): Promise<ReplicaView | null> {
  try {
    const [routes, metrics] = await Promise.all([get(`http://127.0.0.1:${adminPort}/v1/routes`), get(`http://127.0.0.1:${adminPort}/metrics`)]);
    if (!routes.ok || !metrics.ok) return null;
    const r = parseRoutes((await routes.json()) as RoutesBody, route);
    if (!r) return null;
    return { ...r, ...parseMetrics(await metrics.text(), route) };
  } catch {
    return null;
  }
}

/** Waits until GET /readyz answers 200. */
export async function waitReady(adminPort: number, timeoutMs: number, isDead: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (isDead()) throw new Error(`${what} exited during start`);
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms`);
    const ok = await get(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
