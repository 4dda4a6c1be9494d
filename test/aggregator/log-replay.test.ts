/**
 * Reward log replay at start (RewardLog.open): rotated files first, then the
 * live file; each record is counted and handed on in order, a line that is not
 * a record is counted bad, empty lines are skipped, and a torn last line (no
 * newline: a crash mid-write, never acked) is cut off the file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RewardLog, type LogRecord } from '../../src/aggregator/log.js';

const dir = mkdtempSync(join(tmpdir(), 'eb-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rec = (id: string) => JSON.stringify({ decision_id: id, route: 'chat', arm: 'a', reward: 1, source: 'response', time_ms: 1, replica: 'r1', received_ms: 2 });

async function replay(name: string, files: Record<string, string>) {
  const path = join(dir, name);
  for (const [suffix, text] of Object.entries(files)) writeFileSync(path + suffix, text);
  const log = new RewardLog(path, 'none', {}, { maxBytes: null, keep: 2 });
  const seen: string[] = [];
  const result = await log.open((r: LogRecord) => seen.push(r.decision_id));
  await log.close();
  return { path, seen, result, bytes: log.bytes };
}

describe('reward log replay', () => {
  it('replays rotated files oldest first, then the live file, counting bad lines and skipping empty ones', async () => {
    const { seen, result, bytes } = await replay('log-a', {
      '.2': `${rec('old-1')}\nnot json\n`,
      '.1': `\n${rec('mid-1')}\n{"decision_id":"no-route"}\n`,
      '': `${rec('live-1')}\n\n${rec('live-2')}\n`,
    });
    expect(seen).toEqual(['old-1', 'mid-1', 'live-1', 'live-2']);
    expect(result).toEqual({ records: 4, bad: 2, truncatedTail: false });
    expect(bytes).toBe(Buffer.byteLength(`${rec('live-1')}\n\n${rec('live-2')}\n`));
  });

  it('cuts a torn last line off the live file and does not count it', async () => {
    const { path, seen, result } = await replay('log-b', { '': `${rec('live-1')}\n{"decision_id":"torn","rou` });
    expect(seen).toEqual(['live-1']);
    expect(result).toEqual({ records: 1, bad: 0, truncatedTail: true });
    expect(readFileSync(path, 'utf8')).toBe(`${rec('live-1')}\n`);
  });

  it('a torn last line that happens to be a whole record is cut without being handed on (its resend is not a duplicate)', async () => {
    const { path, seen, result } = await replay('log-c', { '': `${rec('live-1')}\n${rec('unacked')}` });
    expect(seen).toEqual(['live-1']);
    expect(result).toEqual({ records: 1, bad: 0, truncatedTail: true });
    expect(readFileSync(path, 'utf8')).toBe(`${rec('live-1')}\n`);
  });
});
