/**
 * The reward log rotates by size, keeps `log_keep` old files, and a restarted
 * aggregator replays the rotated files too, so a resend of a reward logged
 * before the rotation is still a duplicate.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AggregatorServer } from '../../src/aggregator/server.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/util/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'eb-agg-rot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const logFile = join(dir, 'rewards.jsonl');
function config() {
  const yaml = [
    'replica_id: aggregator',
    'listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }',
    'routes: [{ name: chat, match: { path_prefix: / }, arms: [{ name: a, cluster: a }] }]',
    `aggregator: { address: 127.0.0.1:0, log_file: ${logFile}, log_max_bytes: 4096, log_keep: 2 }`,
    'log: { level: silent }',
  ].join('\n');
  const r = parseConfig(yaml, { env: {}, hostname: 'aggregator' });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}
const reward = (i: number) => ({ decision_id: `reward-${String(i).padStart(5, '0')}`, route: 'chat', arm: 'a', reward: 1, source: 'response', time_ms: 1 });
const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { decision_id: string }).decision_id);

describe('reward log rotation', () => {
  it('rotates before passing log_max_bytes, keeps log_keep files, and replays them at start for deduplication', async () => {
    const s = new AggregatorServer({ config: config(), logger: silentLogger(), admin: false });
    await s.start();
    for (let b = 0; b < 30; b++) await s.ingest({ replica: 'r1', seq: b + 1, rewards: Array.from({ length: 5 }, (_, k) => reward(b * 5 + k)) });
    await s.stop();
    expect(readdirSync(dir).filter((f) => f.startsWith('rewards.jsonl') && !f.endsWith('.snapshot.json')).sort()).toEqual(['rewards.jsonl', 'rewards.jsonl.1', 'rewards.jsonl.2']);
    for (const f of ['rewards.jsonl', 'rewards.jsonl.1', 'rewards.jsonl.2']) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(4096);
    expect(s.log.rotations).toBeGreaterThan(2);
    // The kept files hold the newest rewards, in order, none twice.
    const kept = [...lines(`${logFile}.2`), ...lines(`${logFile}.1`), ...lines(logFile)];
    expect(kept).toEqual(Array.from({ length: 150 }, (_, i) => reward(i).decision_id).slice(-kept.length));

    const again = new AggregatorServer({ config: config(), logger: silentLogger(), admin: false });
    await again.start();
    // A resend of a reward that now sits in a rotated file is a duplicate.
    const oldest = kept[0]!;
    const ack = await again.ingest({ replica: 'r1', seq: 1, rewards: [{ ...reward(0), decision_id: oldest }] });
    expect(ack).toMatchObject({ ok: true, value: { accepted: 0, duplicates: 1 } });
    expect(again.summary().rewards).toBe(kept.length);
    await again.stop();
  });
});
