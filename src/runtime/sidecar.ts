import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { AdminServer, type AdminLimits } from '../admin/http.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { reloadRoute } from '../admin/routes.js';
import { ArmReadingsBoard } from '../admin/route-info.js';
import type { Config } from '../config/types.js';
import { Engine } from '../engine/engine.js';
import { EngineExtProcHandler } from '../engine/extproc-bridge.js';
import { createExtProcServer, type ExtProcServer } from '../extproc/server.js';
import { DecisionIdCodec } from '../reward/decision-id.js';
import { ReplicaState, routeShapes } from '../state/replica-state.js';
import type { WarmPrior } from '../state/warm-start.js';
import { systemClock, type Clock } from '../util/clock.js';
import { createRng, randomSeed } from '../util/rng.js';
import type { SidecarComponent, SidecarContext } from './component.js';
import { COMPONENTS } from './components.js';
import { refreshArmGauges } from './gauges.js';
import { EventBus } from '../notify/events.js';
import { reloadFromFile, type ReloadResult, type ReloadTarget } from './reload.js';
import { requireSecret } from '../util/secret.js';
import { loadRewrites, type RewriteTable } from '../rewrite/arm-rewrites.js';
import { issuesError } from '../config/issues.js';
import { PinCodec } from '../sticky/pin.js';
import { isLoopback, listenFailure, parseAddress } from '../util/address.js';

const isLoopbackAddress = (text: string): boolean => {
  const a = parseAddress(text);
  return a === undefined || isLoopback(a);
};

export interface SidecarOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  /** Seed for the decision RNG; random when omitted. */
  seed?: number;
  registry?: Registry;
  env?: NodeJS.ProcessEnv;
  /** The config file, re-read by POST /v1/reload (the endpoint exists only when set). */
  configPath?: string;
  /** Warm-start priors already built by the command's file check (serve): used at start instead of reading the sources again. */
  priors?: ReadonlyMap<string, WarmPrior>;
  /** Admin request limits (tests shorten the slow-client timeouts). */
  adminLimits?: Partial<AdminLimits>;
}

export const DEFAULT_DRAIN_MS = 8000;
/** Of the drain, what is kept back for the components (reward flush, snapshot write) after ext_proc has drained. */
export const COMPONENT_STOP_MS = 2000;


/** The composition root of `envoy-bandit serve`. */
export class Sidecar {
  readonly engine: Engine;
  readonly state: ReplicaState;
  readonly metrics: Metrics;
  readonly admin: AdminServer;
  readonly ctx: SidecarContext;
  readonly handler: EngineExtProcHandler;
  private extproc: ExtProcServer | null = null;
  private components: SidecarComponent[] = [];
  private listening = false;
  private draining = false;
  addresses = { extProc: '', admin: '' };

  static async create(opts: SidecarOptions): Promise<Sidecar> {
    const { config, logger } = opts;
    const rewrites = await loadRewrites(config);
    if (!rewrites.ok) throw issuesError(rewrites.error);
    let key: Buffer;
    if (config.decision_ids.secret_file) {
      key = await requireSecret(config.decision_ids.secret_file, 'decision_ids.secret_file');
    } else {
      key = DecisionIdCodec.generateKey();
      logger.warn('decision_ids.secret_file is not set: generated a key at start; only this replica (and only until it restarts) will accept its decision ids as feedback and its sticky pins');
    }
    let token: string | null = null;
    if (config.admin.token_file) token = (await requireSecret(config.admin.token_file, 'admin.token_file')).toString('utf8');
    const sidecar = new Sidecar(opts, key, token);
    sidecar.handler.rewrites = rewrites.value;
    return sidecar;
  }

  private constructor(
    private readonly opts: SidecarOptions,
    key: Buffer,
    token: string | null,
  ) {
    const clock = opts.clock ?? systemClock;
    const config = opts.config;
    this.metrics = createMetrics(opts.registry ?? new Registry(), { processMetrics: true });
    this.state = new ReplicaState(config.replica_id, routeShapes(config), clock, { slotExpiryMs: config.state.slot_expiry_ms });
    this.engine = new Engine({
      config,
      state: this.state,
      rng: createRng(opts.seed ?? randomSeed()),
      clock,
      metrics: this.metrics,
      logger: opts.logger,
      ids: new DecisionIdCodec(key, config.replica_id),
      pins: new PinCodec(key),
    });
    this.handler = new EngineExtProcHandler(this.engine, this.metrics);
    this.admin = new AdminServer({
      address: config.listen.admin,
      logger: opts.logger,
      registry: this.metrics.registry,
      token,
      protectReads: !isLoopbackAddress(config.listen.admin),
      readiness: () => this.readiness(),
      ...(opts.adminLimits ? { limits: opts.adminLimits } : {}),
      // Shares need Monte Carlo draws per arm: computed when Prometheus asks, not on a timer that stalls the ext_proc loop.
      beforeScrape: () => refreshArmGauges(this.engine, this.metrics),
    });
    this.ctx = {
      config,
      engine: this.engine,
      state: this.state,
      metrics: this.metrics,
      logger: opts.logger,
      clock,
      admin: this.admin,
      env: opts.env ?? process.env,
      events: new EventBus(),
      readings: new ArmReadingsBoard(),
      feedback: { forward: null, settle: null },
      priors: opts.priors ?? null,
    };
    const configPath = opts.configPath;
    if (configPath) this.admin.add(reloadRoute(() => this.reloadFrom(configPath), opts.logger));
  }

  /** Re-reads `path` and applies it (POST /v1/reload, SIGHUP); a bad config is rejected and the old one keeps serving. */
  reloadFrom(path: string): Promise<ReloadResult> {
    const ctx = this.ctx;
    const target: ReloadTarget = {
      get config() {
        return ctx.config;
      },
      started: this.opts.config,
      apply: (config, rewrites) => this.reconfigure(config, rewrites),
      metrics: this.metrics,
      clock: ctx.clock,
      events: ctx.events,
    };
    return reloadFromFile(target, path, ctx.env);
  }

  get logger(): Logger {
    return this.opts.logger;
  }

  readiness(): { ready: boolean; checks: Record<string, boolean | string>; degraded?: Record<string, string> } {
    const checks: Record<string, boolean | string> = { config: true, ext_proc: this.listening && !this.draining };
    let degraded: Record<string, string> | undefined;
    for (const c of this.components) {
      const r = c.readiness?.();
      if (r !== undefined) checks[c.name] = r;
      const d = c.degraded?.();
      if (d) (degraded ??= {})[c.name] = d;
    }
    return { ready: Object.values(checks).every((v) => v === true), checks, ...(degraded ? { degraded } : {}) };
  }

  async start(): Promise<{ extProc: string; admin: string }> {
    const log = this.opts.logger;
    for (const factory of COMPONENTS) {
      const c = factory(this.ctx);
      if (!c) continue;
      await c.start();
      this.components.push(c);
    }
    const a = await this.admin.start().catch((e: unknown) => Promise.reject(listenFailure('listen.admin', this.ctx.config.listen.admin, e)));
    this.addresses.admin = `${a.host}:${a.port}`;
    this.extproc = createExtProcServer({
      handler: this.handler,
      address: this.ctx.config.listen.ext_proc,
      transport: this.ctx.config.listen.ext_proc_transport,
      logger: log,
      onStreamEnd: (outcome) => this.metrics.extprocStreams.inc({ outcome }),
      onError: (kind) => this.metrics.extprocErrors.inc({ kind }),
    });
    const bound = await this.extproc.start().catch((e: unknown) => Promise.reject(listenFailure('listen.ext_proc', this.ctx.config.listen.ext_proc, e)));
    this.addresses.extProc = bound.address;
    this.listening = true;
    refreshArmGauges(this.engine, this.metrics);
    this.metrics.configLastReload.set(this.ctx.clock.now() / 1000);
    log.info({ replica: this.ctx.config.replica_id, ext_proc: this.addresses.extProc, admin: this.addresses.admin, routes: this.engine.routes.map((r) => r.name) }, 'envoy-bandit sidecar started');
    return this.addresses;
  }

  /** Applies a validated new config (with its rewrites, secrets read); components follow. */
  async reconfigure(config: Config, rewrites: RewriteTable): Promise<void> {
    this.engine.reload(config);
    this.handler.rewrites = rewrites;
    this.ctx.config = config;
    for (const c of this.components) await c.reconfigure?.(config);
    refreshArmGauges(this.engine, this.metrics);
  }

  /** Drain: stop taking new ext_proc streams, finish components (flush rewards, write the snapshot), close. */
  async stop(drainMs = DEFAULT_DRAIN_MS): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const log = this.opts.logger;
    log.info({ drain_ms: drainMs }, 'draining');
    await this.extproc?.drain(Math.max(0, drainMs - COMPONENT_STOP_MS));
    this.listening = false;
    for (const c of [...this.components].reverse()) {
      try {
        await c.stop();
      } catch (err) {
        log.error({ err, component: c.name }, 'component failed to stop cleanly');
      }
    }
    await this.admin.close();
    log.info('envoy-bandit sidecar stopped');
  }
}
