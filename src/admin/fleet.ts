import type { Engine } from '../engine/engine.js';
import type { AdminRoute } from './http.js';

/**
 * GET /v1/fleet: the slots this replica merges into its fleet view — its own
 * and every peer's it has heard of by gossip — with their version, samples
 * per arm, flags, and staleness (how long since the slot last advanced here).
 * `envoy-bandit ctl status` shows which replicas the view is made of and how
 * fresh each one is.
 */
export function describeFleet(engine: Engine): unknown {
  const state = engine.state;
  const now = engine.clock.now();
  const heard = new Map(state.peers().map((p) => [p.replica, p.heardAt]));
  const snapshot = state.snapshot();
  return {
    replica: state.replicaId,
    time: now,
    slots: Object.values(snapshot.slots).map((slot) => {
      const self = slot.replica === state.replicaId;
      const heardAt = self ? now : (heard.get(slot.replica) ?? 0);
      const samples: Record<string, Record<string, number>> = {};
      for (const [route, arms] of Object.entries(slot.routes)) {
        samples[route] = Object.fromEntries(Object.entries(arms).map(([arm, s]) => [arm, s.n]));
      }
      return {
        replica: slot.replica,
        self,
        version: slot.version,
        updated_at: slot.updated_at,
        heard_at: heardAt,
        staleness_ms: heardAt > 0 ? Math.max(0, now - heardAt) : null,
        samples,
        // Quarantines in force that were raised on this replica (they are fleet records now: state/records.ts).
        flags: Object.fromEntries(
          state
            .allRecords()
            .filter((r) => (r.kind === 'guard' || r.kind === 'manual') && r.state === 'quarantined' && r.by.replica === slot.replica)
            .map((r) => [`${r.route}/${'arm' in r ? r.arm : ''}`, { rule: r.kind === 'guard' ? r.rule : 'manual', since: r.stamp.ms, until: r.kind === 'guard' ? r.until : null }]),
        ),
      };
    }),
  };
}

export function fleetAdminRoute(engine: Engine): AdminRoute {
  return { method: 'GET', path: '/v1/fleet', mutating: false, handle: () => ({ status: 200, body: describeFleet(engine) }) };
}
