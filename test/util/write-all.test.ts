/** writeAll (util/write-retry.ts): the partial-write loop the reward log and the decision log share. */
import type { FileHandle } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { writeAll } from '../../src/util/write-retry.js';

/** A file handle whose write(2) takes at most the next of `steps` bytes per call (0 = no progress). */
function handle(steps: number[]) {
  const written: Buffer[] = [];
  const fh = {
    async write(buf: Buffer, off: number, len: number) {
      const n = Math.min(len, steps.shift() ?? len);
      written.push(Buffer.from(buf.subarray(off, off + n)));
      return { bytesWritten: n, buffer: buf };
    },
  } as unknown as FileHandle;
  return { fh, text: () => Buffer.concat(written).toString('utf8') };
}

describe('writeAll', () => {
  it('keeps writing after a partial write until every byte is out, multi-byte characters included', async () => {
    const h = handle([3, 1, 5]);
    await writeAll(h.fh, 'héllo, wörld\n', 'EB_REWARD_LOG_UNAVAILABLE');
    expect(h.text()).toBe('héllo, wörld\n');
  });

  it('throws the given code when a write makes no progress', async () => {
    const h = handle([4, 0]);
    await expect(writeAll(h.fh, 'decision line\n', 'EB_DECISION_LOG_WRITE')).rejects.toMatchObject({ code: 'EB_DECISION_LOG_WRITE', message: 'write made no progress (EIO)', details: { errno: 'EIO' } });
    expect(h.text()).toBe('deci');
  });
});
