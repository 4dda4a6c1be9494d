/**
 * Quarantine, probation and release: every rule about whether an arm may take
 * traffic, in one place.
 *
 * 1. **Raise.** A quarantine is a fleet record (state/records.ts), written on
 *    any replica and carried by gossip, snapshot files and the aggregator: the
 *    guardrails write the arm's `guard` register on a trip (`until` = now +
 *    cooldown, doubled per failed probation up to MAX_BACKOFF_FACTOR), an
 *    operator writes its `manual` register (until released).
 * 2. **In force.** An arm is ineligible while its manual register says
 *    quarantined, or its guard register says quarantined and `until > now`.
 * 3. **Release by hand.** Writes `released` into both registers: a later stamp
 *    than every quarantine raised before it on any replica (including one since
 *    replaced), so it lifts them fleet-wide; a newer trip still counts. The
 *    guardrails treat such a release as "the operator accepts the arm as it is":
 *    its baseline and window are dropped, no probation.
 * 4. **Cooldown over → probation.** When the flags expire, the guardrails put
 *    the arm in probation: it takes a fixed slice of new traffic outside the
 *    policy (the route's min_share, at least PROBATION_MIN_SHARE; all probation
 *    arms together at most PROBATION_MAX_TOTAL_SHARE) until fresh samples give a
 *    verdict — pass → active (own flag cleared), fail → quarantined again. When
 *    no non-probation arm is eligible, the policy serves the probation arms.
 * 5. **Nothing eligible.** Guardrails never raise a flag on a route's last
 *    eligible arm (guardrails.ts `hold`, reason `last_arm`), nor on an arm
 *    whose peers all shifted with it (common mode). Only an operator's
 *    quarantine can leave nothing eligible; the route's default arm then
 *    takes the traffic (reason `quarantine`).
 *
 * `RouteEligibility` holds one route's view (cached until a flag can change);
 * `nextGuardPhase` is the guardrails' side of rules 3 and 4.
 */
import type { ReplicaState } from '../state/replica-state.js';
import { UNTIL_RELEASED, type QuarantineFlag } from '../state/records.js';

/** Far-future `until` for quarantines that last until released by hand. */
export { UNTIL_RELEASED };
/** Probation slice per arm when the route's min_share is smaller (0 would never re-probe). */
export const PROBATION_MIN_SHARE = 0.01;
/** Probation arms together never take more than this. */
export const PROBATION_MAX_TOTAL_SHARE = 0.5;

export type FlagInForce = QuarantineFlag;

/** One route's eligibility on this replica: which arms may be chosen, which are in probation. */
export class RouteEligibility {
  /** 1 = may be chosen (no quarantine flag in force). Valid after `refresh`. */
  readonly eligible: Uint8Array;
  eligibleCount: number;
  /** Quarantine reason per arm (`rule@replica`, comma-separated; for /v1/routes), '' when eligible. */
  readonly quarantineRule: string[];
  /** 1 = in guardrail probation (rule 4). */
  readonly probation: Uint8Array;
  probationCount = 0;
  private flagsVersion = -1;
  private validUntil = 0;

  constructor(
    readonly route: string,
    readonly armNames: readonly string[],
  ) {
    const k = armNames.length;
    this.eligible = new Uint8Array(k).fill(1);
    this.eligibleCount = k;
    this.quarantineRule = armNames.map(() => '');
    this.probation = new Uint8Array(k);
  }

  /** Rule 2: the flags in force for arm `a` on this replica. */
  flagsInForce(state: ReplicaState, a: number, now: number): FlagInForce[] {
    const name = this.armNames[a];
    if (name === undefined) return [];
    return state.activeFlags(this.route, name, now);
  }

  /** Recomputes `eligible` when a flag may have changed (any replica's flags, or one expiring). Cheap when nothing did. */
  refresh(state: ReplicaState, now: number): void {
    if (this.flagsVersion === state.flagsVersion && now < this.validUntil) return;
    let count = 0;
    let validUntil = Number.POSITIVE_INFINITY;
    for (let a = 0; a < this.armNames.length; a++) {
      const flags = this.flagsInForce(state, a, now);
      this.eligible[a] = flags.length === 0 ? 1 : 0;
      this.quarantineRule[a] = flags.length === 0 ? '' : flags.map((f) => `${f.rule}@${f.replica}`).join(',');
      for (const f of flags) validUntil = Math.min(validUntil, f.until);
      if (flags.length === 0) count++;
    }
    this.eligibleCount = count;
    this.flagsVersion = state.flagsVersion;
    this.validUntil = validUntil;
  }

  /** Rule 3, this replica's side: the caller has written the release record; recompute now. */
  release(_a: number, _now: number): void {
    this.flagsVersion = -1;
  }

  /** Rule 4: in (or out of) probation. Returns whether it changed. */
  setProbation(a: number, on: boolean): boolean {
    if ((this.probation[a] === 1) === on) return false;
    this.probation[a] = on ? 1 : 0;
    this.probationCount += on ? 1 : -1;
    return true;
  }

  /** Eligible probation arms taking a slice; 0 when no other eligible arm is left (then the policy serves them all). */
  probing(): number {
    if (this.probationCount === 0) return 0;
    let n = 0;
    for (let a = 0; a < this.armNames.length; a++) if (this.eligible[a] && this.probation[a]) n++;
    return n < this.eligibleCount ? n : 0;
  }

  /** Each probing arm's share of new traffic (rule 4). */
  static probationSlice(minShare: number, probing: number): number {
    return Math.min(Math.max(minShare, PROBATION_MIN_SHARE), PROBATION_MAX_TOTAL_SHARE / probing);
  }

  /** With probability `slice` per probing arm (u uniform on [0, 1)), that arm; else -1 (the policy decides). */
  pickProbation(slice: number, u: number): number {
    for (let a = 0; a < this.armNames.length; a++) {
      if (!this.eligible[a] || !this.probation[a]) continue;
      if (u < slice) return a;
      u -= slice;
    }
    return -1;
  }

  /** Whether the policy sees arm `a` (eligible, and not taking a probation slice outside it). */
  inPolicy(a: number, probing: boolean): boolean {
    return this.eligible[a] === 1 && !(probing && this.probation[a] === 1);
  }
}

/**
 * Where an arm stands for the guardrails. `quarantined` follows eligibility, so
 * a peer's flag (gossip) or an operator's quarantine counts too.
 */
export type GuardPhase = 'active' | 'quarantined' | 'probation';

/**
 * What the guardrails do with an arm now, given its phase, its eligibility and
 * the latest `until` of the flags that quarantined it (rules 3 and 4):
 * - `quarantine`: it is ineligible (enter or stay quarantined; do not judge);
 * - `probation`: its flags ran out (cooldown over) — re-probe it;
 * - `released`: eligible before its flags ran out — an operator released it;
 * - `judge`: evaluate its samples.
 */
export function nextGuardPhase(phase: GuardPhase, eligible: boolean, flagUntil: number, now: number): 'quarantine' | 'probation' | 'released' | 'judge' {
  if (!eligible) return 'quarantine';
  if (phase !== 'quarantined') return 'judge';
  return now >= flagUntil ? 'probation' : 'released';
}
