import type { Logger } from 'pino';
import type { AdminServer } from '../admin/http.js';
import type { ArmReadingsBoard } from '../admin/route-info.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Config } from '../config/types.js';
import type { Engine } from '../engine/engine.js';
import type { EventBus } from '../notify/events.js';
import type { ReplicaState } from '../state/replica-state.js';
import type { WarmPrior } from '../state/warm-start.js';
import type { Clock } from '../util/clock.js';
import type { Result } from '../util/errors.js';

/**
 * Joins the feedback manager and the gossip mesh, each filled in by its own
 * component (both may be absent): feedback for another replica's decision
 * travels to its issuer over the mesh (docs/feedback.md).
 */
export interface FeedbackPort {
  /** Set by the gossip component: the issuing replica's answer body, or why it could not be asked. */
  forward: ((issuer: string, body: unknown) => Promise<Result<unknown, string>>) | null;
  /** Set by the feedback component: settles a body another replica forwarded (answers, or why refused). */
  settle: ((body: unknown, from: string) => unknown) | null;
}

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
  /** Per-arm readings components add to GET /v1/routes (guardrails). */
  readings: ArmReadingsBoard;
  feedback: FeedbackPort;
  /** Warm-start priors the command built with its file check (config/files.ts); the start uses them, a reload reads the sources. */
  priors: ReadonlyMap<string, WarmPrior> | null;
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
