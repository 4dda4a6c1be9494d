/**
 * What one gossip message may bring in. A validly signed message is still
 * bounded: at most MAX_SLOTS_PER_MESSAGE slots (the most recently updated
 * kept), at most MAX_RECORDS_PER_MESSAGE records and tombstones (the latest
 * kept), no slot version beyond what the sender's clock allows (versions
 * follow time, see replica-state.ts: a version from the future would freeze
 * the slot), and no slot, record or tombstone dated further in the future
 * than the skew limit (it would never expire, or drag our logical clock).
 * Everything left out is counted by reason.
 */
import { compareStamps } from '../state/hlc.js';
import type { Records } from '../state/records.js';
import { linearSlotSize } from '../state/linear.js';
import { maxVersionAt, type SlotSnapshot, type Snapshot, type Tombstone } from '../state/snapshot.js';

/** A fleet far larger than any we run (10 replicas × every rollout within an expiry is well under). */
export const MAX_SLOTS_PER_MESSAGE = 512;
/** Records: 2 per route + 2 per arm for every route and arm ever configured. */
export const MAX_RECORDS_PER_MESSAGE = 4096;
export const MAX_TOMBSTONES_PER_MESSAGE = 4096;
/**
 * Contextual statistics (A's upper triangle, b and n per arm) one message may
 * bring in, counted over its slots: 16 features × 5 arms (d = 17: 855 numbers
 * per route) fit every slot of MAX_SLOTS_PER_MESSAGE; past the cap the least
 * recently updated slots wait for a later message.
 */
export const MAX_LINEAR_VALUES_PER_MESSAGE = 1_048_576;

export type DropReason = 'slot_cap' | 'linear_cap' | 'record_cap' | 'tombstone_cap' | 'version_cap' | 'future';
export const DROP_REASONS: readonly DropReason[] = ['slot_cap', 'linear_cap', 'record_cap', 'tombstone_cap', 'version_cap', 'future'];

export interface Admitted {
  snapshot: Snapshot;
  dropped: Partial<Record<DropReason, number>>;
}

export function admitSnapshot(s: Snapshot, now: number, maxSkewMs: number): Admitted {
  const dropped: Partial<Record<DropReason, number>> = {};
  const drop = (r: DropReason, n = 1) => {
    if (n > 0) dropped[r] = (dropped[r] ?? 0) + n;
  };
  const horizon = now + maxSkewMs;
  const maxVersion = maxVersionAt(now, maxSkewMs);

  let slots: Array<[string, SlotSnapshot]> = [];
  for (const e of Object.entries(s.slots)) {
    if (e[1].updated_at > horizon) drop('future');
    else if (e[1].version > maxVersion) drop('version_cap');
    else slots.push(e);
  }
  if (slots.length > MAX_SLOTS_PER_MESSAGE) {
    slots.sort((a, b) => b[1].updated_at - a[1].updated_at);
    drop('slot_cap', slots.length - MAX_SLOTS_PER_MESSAGE);
    slots = slots.slice(0, MAX_SLOTS_PER_MESSAGE);
  }
  if (slots.some(([, slot]) => slot.linear !== undefined)) {
    slots.sort((a, b) => b[1].updated_at - a[1].updated_at);
    let budget = MAX_LINEAR_VALUES_PER_MESSAGE;
    const kept: Array<[string, SlotSnapshot]> = [];
    for (const e of slots) {
      let size = 0;
      for (const lr of Object.values(e[1].linear ?? {})) size += linearSlotSize(lr);
      if (size > budget) drop('linear_cap');
      else {
        budget -= size;
        kept.push(e);
      }
    }
    slots = kept;
  }

  let records = Object.entries(s.records ?? {}).filter(([, r]) => {
    if (r.stamp.ms <= horizon) return true;
    drop('future');
    return false;
  });
  if (records.length > MAX_RECORDS_PER_MESSAGE) {
    records.sort((a, b) => compareStamps(b[1].stamp, a[1].stamp));
    drop('record_cap', records.length - MAX_RECORDS_PER_MESSAGE);
    records = records.slice(0, MAX_RECORDS_PER_MESSAGE);
  }

  let tombstones = Object.entries(s.tombstones ?? {}).filter(([, t]) => {
    if (t.updated_at <= horizon && t.version <= maxVersion) return true;
    drop('future');
    return false;
  });
  if (tombstones.length > MAX_TOMBSTONES_PER_MESSAGE) {
    tombstones.sort((a, b) => b[1].updated_at - a[1].updated_at);
    drop('tombstone_cap', tombstones.length - MAX_TOMBSTONES_PER_MESSAGE);
    tombstones = tombstones.slice(0, MAX_TOMBSTONES_PER_MESSAGE);
  }

  return {
    snapshot: {
      slots: Object.fromEntries(slots),
      records: Object.fromEntries(records) as Records,
      tombstones: Object.fromEntries(tombstones) as Record<string, Tombstone>,
    },
    dropped,
  };
}
