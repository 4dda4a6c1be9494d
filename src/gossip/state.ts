/**
 * What gossip needs of a member's state. A sidecar adapts its ReplicaState
 * (it owns a slot); the aggregator uses FleetView (no slot of its own, only
 * merging, expiring and serving).
 *
 * How decay composes with merging. A merge replaces a whole slot by a newer
 * version of the same slot; it never adds deltas, and fading never writes a
 * slot: that is what keeps it a state-based CRDT (commutative, associative,
 * idempotent).
 * - half_life(ms): a slot's stats are as of its updated_at; every reader fades
 *   them by 2^(-(now - updated_at)/half_life) when it reads. A dead replica's
 *   slot fades at the same rate as a live one, and the fleet's memory is the
 *   half-life whatever the number of replicas.
 * - discount(gamma) / window(size): evidence fades with the owner's own
 *   observations (each slot remembers ~1/(1-gamma), or `size`, of its own),
 *   so the fleet's memory grows with the number of replicas, and a replica
 *   that stops getting requests publishes its last slot unfaded until it
 *   expires (state.slot_expiry).
 */
import type { Logger } from 'pino';
import type { ReplicaState } from '../state/replica-state.js';
import { stampText } from '../state/hlc.js';
import type { FleetRecord } from '../state/records.js';
import { mergeSnapshots, compareSlots, expireSnapshot, type Snapshot } from '../state/snapshot.js';
import type { Clock } from '../util/clock.js';

export interface PeerSlotInfo {
  replica: string;
  /** When the slot last advanced, by our clock (epoch ms; 0 = never). */
  heardAt: number;
}

export interface GossipState {
  readonly id: string;
  snapshot(): Snapshot;
  /** Merges a validated snapshot; returns the replicas whose slot advanced. */
  merge(incoming: Snapshot): string[];
  peers(): PeerSlotInfo[];
  /** The first sync is done (or timed out): a sidecar stops adopting its own slot from peers. */
  syncDone(): void;
}

/** One log line per operator or guardrail record learned from the fleet (the audit trail on every replica). */
export function logAdoptedRecords(logger: Logger | null, records: readonly FleetRecord[], via: string): void {
  if (!logger) return;
  for (const r of records) {
    const { stamp, by, ...what } = r;
    logger.info({ audit: true, source: via, who: by.who, replica: by.replica, at: stamp.ms, stamp: stampText(stamp), ...what }, 'fleet record adopted');
  }
}

export function replicaGossipState(state: ReplicaState, logger: Logger | null = null): GossipState {
  return {
    id: state.replicaId,
    snapshot: () => state.snapshot(),
    merge: (s) => {
      const res = state.merge(s);
      logAdoptedRecords(logger, res.records, 'gossip');
      if (res.expired.length) logger?.info({ replicas: res.expired, expiry_ms: state.slotExpiryMs }, 'peer slots expired (unchanged for longer than state.slot_expiry)');
      return res.updated;
    },
    peers: () => state.peers(),
    syncDone: () => {
      if (state.adoptionIsOpen) state.closeAdoption();
    },
  };
}

/**
 * The aggregator's view: every replica's latest slot (none of its own), the
 * fleet's records and tombstones, expired like a replica's. It keeps the
 * records a restarted or brand-new replica needs to come up in the fleet's mode.
 */
export class FleetView implements GossipState {
  private current: Snapshot = { slots: {}, records: {}, tombstones: {} };
  private readonly heardAt = new Map<string, number>();

  constructor(
    readonly id: string,
    private readonly clock: Clock,
    private readonly slotExpiryMs: number,
  ) {}

  snapshot(): Snapshot {
    this.expire(this.clock.now());
    return this.current;
  }

  merge(incoming: Snapshot): string[] {
    const updated: string[] = [];
    const now = this.clock.now();
    const slots: Snapshot['slots'] = {};
    for (const [id, slot] of Object.entries(incoming.slots)) {
      // A slot under our own id would be an impostor (or a misconfigured replica): we hold none.
      if (id === this.id) continue;
      const mine = this.current.slots[id];
      if (!mine || compareSlots(slot, mine) > 0) {
        updated.push(id);
        this.heardAt.set(id, now);
      }
      slots[id] = slot;
    }
    this.current = mergeSnapshots(this.current, { ...incoming, slots });
    this.expire(now);
    return updated.filter((id) => this.current.slots[id] !== undefined);
  }

  private expire(now: number): void {
    this.current = expireSnapshot(this.current, now, this.slotExpiryMs);
    for (const id of this.heardAt.keys()) if (!this.current.slots[id]) this.heardAt.delete(id);
  }

  peers(): PeerSlotInfo[] {
    return Object.keys(this.current.slots).map((replica) => ({ replica, heardAt: this.heardAt.get(replica) ?? 0 }));
  }

  syncDone(): void {}
}
