import { readSlotFile, writeSlotFile } from '../state/persistence.js';
import type { ComponentFactory } from './component.js';

/** Loads this replica's slot at start, writes it every `state.interval` and on shutdown. */
export const snapshotComponent: ComponentFactory = (ctx) => {
  const file = ctx.config.state.snapshot_file;
  if (!file) return null;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const write = () => {
    writing = writing
      .then(() => writeSlotFile(file, ctx.state.ownSlot(), ctx.state.snapshot().records))
      .catch((err: unknown) => ctx.logger.error({ err, file }, 'state snapshot write failed'));
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
      timer = setInterval(() => void write(), ctx.config.state.interval_ms);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await write();
      ctx.logger.info({ file, version: ctx.state.ownVersion }, 'state snapshot written');
    },
  };
};
