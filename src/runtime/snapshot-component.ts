import { readSlotFile, writeSlotFile } from '../state/persistence.js';
import { WriteHealth } from '../util/write-retry.js';
import type { ComponentFactory } from './component.js';

/**
 * Loads this replica's slot at start, writes it every `state.interval` and on
 * shutdown. A failed write (full disk, EIO) is counted, logged once per outage,
 * and retried with backoff (100 ms doubling to 5 s) until one succeeds; the
 * state itself lives in memory and in the fleet, so nothing is lost but the
 * file's freshness, and the sidecar stays ready (reported under /readyz `degraded`).
 */
export const snapshotComponent: ComponentFactory = (ctx) => {
  const file = ctx.config.state.snapshot_file;
  if (!file) return null;
  let timer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let writing: Promise<void> = Promise.resolve();
  const health = new WriteHealth();
  const gauge = ctx.metrics.persistenceHealthy;
  const write = () => {
    writing = writing
      .then(() => writeSlotFile(file, ctx.state.ownSlot(), ctx.state.snapshot().records))
      .then(
        () => {
          ctx.metrics.snapshotWrites.inc({ outcome: 'ok' });
          const downMs = health.ok(Date.now());
          if (downMs !== null) {
            gauge.set({ target: 'snapshot' }, 1);
            ctx.logger.warn({ file, down_ms: downMs }, 'state snapshot writable again');
          }
        },
        (err: unknown) => {
          ctx.metrics.snapshotWrites.inc({ outcome: 'failed' });
          const { first, delayMs } = health.fail(err as Error, Date.now());
          gauge.set({ target: 'snapshot' }, 0);
          if (first) ctx.logger.error({ err, file }, 'state snapshot write failed; retrying with backoff (the state is kept in memory and by peers)');
          if (!stopped && !retryTimer) {
            retryTimer = setTimeout(() => {
              retryTimer = undefined;
              void write();
            }, delayMs);
            retryTimer.unref();
          }
        },
      );
    return writing;
  };
  return {
    name: 'snapshot',
    async start() {
      const res = await readSlotFile(file);
      if (!res.ok) {
        // A corrupt snapshot must not stop the sidecar: peers and fresh evidence rebuild the state.
        ctx.logger.error({ err: res.error.message, code: res.error.code, file }, 'state snapshot unreadable; starting empty');
      } else if (res.value) {
        const { slot, records } = res.value;
        if (slot.replica !== ctx.state.replicaId) {
          ctx.logger.warn({ file, found: slot.replica, replica: ctx.state.replicaId }, 'snapshot belongs to another replica id; loading it as ours');
        }
        ctx.state.restoreOwn({ ...slot, replica: ctx.state.replicaId }, records);
        ctx.logger.info({ file, version: slot.version, records: Object.keys(records).length }, 'state snapshot loaded');
      }
      gauge.set({ target: 'snapshot' }, 1);
      timer = setInterval(() => void write(), ctx.config.state.interval_ms);
      timer.unref();
    },
    degraded: () => health.describe(Date.now()),
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(retryTimer);
      await write();
      if (health.failing) ctx.logger.error({ file, err: health.failing.message }, 'state snapshot not written at shutdown; the next start loads the last good one');
      else ctx.logger.info({ file, version: ctx.state.ownVersion }, 'state snapshot written');
    },
  };
};
