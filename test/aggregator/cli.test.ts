import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/aggregator.js';
import { captureIo } from '../../src/cli/io.js';

const dir = mkdtempSync(join(tmpdir(), 'eb-agg-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('envoy-bandit aggregator (usage errors)', () => {
  it('prints usage on --help and exits 0', async () => {
    const io = captureIo();
    expect(await run(['--help'], io)).toBe(0);
    expect(io.out.join('\n')).toMatch(/usage: envoy-bandit aggregator --config FILE/);
  });

  it('exits 1 naming the problem: no --config, unknown flag, bad log level, bad config, no log_file', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /--config FILE is required/],
      [['--nope'], /unknown flag --nope/],
      [['--config', 'x.yaml', '--log-level', 'loud'], /--log-level must be one of/],
    ];
    for (const [argv, msg] of cases) {
      const io = captureIo();
      expect(await run(argv, io)).toBe(1);
      expect(io.err.join('\n')).toMatch(msg);
    }
    const noLog = join(dir, 'nolog.yaml');
    writeFileSync(noLog, 'replica_id: agg\nroutes: [{ name: chat, arms: [{ name: a, cluster: a }] }]\naggregator: { address: 127.0.0.1:0 }\n');
    const io = captureIo();
    expect(await run(['--config', noLog], io)).toBe(1);
    expect(io.err.join('\n')).toMatch(/aggregator.log_file is required/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'routes: []\nbogus: 1\n');
    const io2 = captureIo();
    expect(await run(['--config', bad], io2)).toBe(1);
    expect(io2.err.length).toBeGreaterThan(0);
  });
});
