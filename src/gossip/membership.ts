/**
 * Who is in the mesh, as this member sees it. A member is a replica id once we
 * have exchanged with it (in either direction), or an address we have not yet
 * reached. Join and leave are logged once per transition:
 * - join: first successful contact, or contact again after leaving;
 * - leave: LEAVE_AFTER_FAILURES consecutive failed exchanges with its address,
 *   or no contact at all for `silentMs` (it stopped gossiping with us).
 */
import type { Logger } from 'pino';

export const LEAVE_AFTER_FAILURES = 3;

type MemberState = 'alive' | 'suspect' | 'left';

interface Member {
  state: MemberState;
  failures: number;
  lastContact: number;
  address: string | null;
}

const addrKey = (address: string) => `addr:${address}`;

export class Membership {
  private readonly members = new Map<string, Member>();
  /** address → replica id learned from a successful exchange. */
  private readonly replicaAt = new Map<string, string>();

  constructor(
    private readonly logger: Pick<Logger, 'info' | 'warn'>,
    private readonly silentMs: number,
  ) {}

  /** A successful exchange with `replica` (outgoing to `address`, or incoming when address is null). */
  contact(replica: string, address: string | null, now: number): void {
    if (address !== null) {
      this.replicaAt.set(address, replica);
      this.members.delete(addrKey(address));
    }
    const m = this.members.get(replica);
    if (!m) {
      this.members.set(replica, { state: 'alive', failures: 0, lastContact: now, address });
      this.logger.info({ peer: replica, address }, 'gossip peer joined');
      return;
    }
    if (m.state === 'left') this.logger.info({ peer: replica, address: address ?? m.address }, 'gossip peer joined again');
    m.state = 'alive';
    m.failures = 0;
    m.lastContact = now;
    if (address !== null) m.address = address;
  }

  failure(address: string, reason: string): void {
    const key = this.replicaAt.get(address) ?? addrKey(address);
    let m = this.members.get(key);
    if (!m) {
      m = { state: 'suspect', failures: 0, lastContact: 0, address };
      this.members.set(key, m);
    }
    m.failures++;
    if (m.state === 'left') return;
    if (m.failures >= LEAVE_AFTER_FAILURES) {
      m.state = 'left';
      if (key.startsWith('addr:')) this.logger.warn({ address, reason, failures: m.failures }, 'gossip peer unreachable');
      else this.logger.warn({ peer: key, address, reason, failures: m.failures }, 'gossip peer left');
    } else {
      m.state = 'suspect';
    }
  }

  /** Marks members silent for longer than `silentMs` as left. */
  sweep(now: number): void {
    for (const [key, m] of this.members) {
      if (m.state === 'left' || m.lastContact === 0 || now - m.lastContact <= this.silentMs) continue;
      m.state = 'left';
      this.logger.warn({ peer: key, silent_ms: now - m.lastContact }, 'gossip peer left');
    }
  }

  /** Forgets unreached addresses that are no longer in the peer list (DNS changes). */
  retain(addresses: ReadonlySet<string>): void {
    for (const key of this.members.keys()) {
      if (key.startsWith('addr:') && !addresses.has(key.slice(5))) this.members.delete(key);
    }
  }

  counts(): { alive: number; suspect: number } {
    let alive = 0;
    let suspect = 0;
    for (const m of this.members.values()) {
      if (m.state === 'alive') alive++;
      else if (m.state === 'suspect') suspect++;
    }
    return { alive, suspect };
  }

  /** Where `replica` answered us last, unless it has left (or we never called it). */
  addressOf(replica: string): string | null {
    const m = this.members.get(replica);
    return m && m.state !== 'left' ? m.address : null;
  }

  /** Whether `address` last answered as a replica that has not left. */
  knowsLiveReplicaAt(address: string): boolean {
    const r = this.replicaAt.get(address);
    return r !== undefined && this.addressOf(r) === address;
  }

  stateOf(replicaOrAddress: string): MemberState | undefined {
    return (this.members.get(replicaOrAddress) ?? this.members.get(addrKey(replicaOrAddress)))?.state;
  }
}
