import type { Logger } from 'pino';
import type { AdminServer } from '../admin/http.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Config } from '../config/types.js';
import type { Engine } from '../engine/engine.js';
import type { EventBus } from '../notify/events.js';
import type { ReplicaState } from '../state/replica-state.js';
import type { Clock } from '../util/clock.js';

/** What every sidecar component is given. */
export interface SidecarContext {
  config: Config;
  engine: Engine;
  state: ReplicaState;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  admin: AdminServer;
  env: NodeJS.ProcessEnv;
  /** Operational events (quarantine, release, pause, reload) for notifications. */
  events: EventBus;
}

/**
 * A part of the sidecar with a lifecycle (gossip, reward stream, decision log,
 * guardrails, feedback, snapshots). Started in order before ext_proc listens,
 * stopped in reverse order after it drains.
 */
export interface SidecarComponent {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** true when ready; a string says what it is still waiting for. */
  readiness?(): true | string;
  /**
   * A problem that does not stop routing (a snapshot or decision-log disk that
   * fails and is being retried): reported in /readyz `degraded`, null when fine.
   */
  degraded?(): string | null;
  /** Called after a successful config reload. */
  reconfigure?(config: Config): void | Promise<void>;
}

export type ComponentFactory = (ctx: SidecarContext) => SidecarComponent | null;
