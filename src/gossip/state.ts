/**
 * What gossip needs of a member's state. A sidecar adapts its ReplicaState
 * (it owns a slot); the aggregator uses FleetView (no slot of its own, only
 * merging and serving).
 *
 * How discounting composes with merging. Each replica's slot holds its own
 * discounted (or windowed) sums: its evidence fades with that replica's own
 * observations, applied by its accumulator as it records. The fleet view is
 * the plain sum of the slots, and a merge replaces a whole slot by a newer
 * version of the same slot; it never adds deltas. That is what keeps it a
 * state-based CRDT (commutative, associative, idempotent): fading happens
 * only inside the owner, so a copy of a slot is never faded or counted twice.
 * Consequences:
 * - discount(gamma): under even load over N replicas the fleet's effective
 *   memory is N/(1-gamma) observations (each slot remembers ~1/(1-gamma) of
 *   its own). Pick gamma for the fleet: gamma = 1 - N/M for a fleet memory of
 *   M observations.
 * - window(size): each slot holds its replica's last `size` observations, so
 *   the fleet view spans N*size observations under even load.
 * - Evidence fades with the owner's traffic, not with time: a replica that
 *   stops getting requests keeps publishing its last slot unfaded until it
 *   records again or is replaced by a restart.
 */
import type { ReplicaState } from '../state/replica-state.js';
import { mergeSnapshots, compareSlots, type SlotSnapshot, type Snapshot } from '../state/snapshot.js';
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

export function replicaGossipState(state: ReplicaState): GossipState {
  return {
    id: state.replicaId,
    snapshot: () => state.snapshot(),
    merge: (s) => state.merge(s).updated,
    peers: () => state.peers(),
    syncDone: () => {
      if (state.adoptionIsOpen) state.closeAdoption();
    },
  };
}

/** The aggregator's view: every replica's latest slot, none of its own. */
export class FleetView implements GossipState {
  private current: Snapshot = { slots: {} };
  private readonly heardAt = new Map<string, number>();

  constructor(
    readonly id: string,
    private readonly clock: Clock,
  ) {}

  snapshot(): Snapshot {
    return this.current;
  }

  merge(incoming: Snapshot): string[] {
    const updated: string[] = [];
    const now = this.clock.now();
    const slots: Record<string, SlotSnapshot> = {};
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
    if (updated.length) this.current = mergeSnapshots(this.current, { slots });
    return updated;
  }

  peers(): PeerSlotInfo[] {
    return Object.keys(this.current.slots).map((replica) => ({ replica, heardAt: this.heardAt.get(replica) ?? 0 }));
  }

  syncDone(): void {}
}
