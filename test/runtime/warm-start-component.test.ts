import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import type { WarmPrior } from '../../src/state/warm-start.js';
import { silentLogger } from '../../src/util/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'eb-warm-sidecar-'));
const LOG = join(dir, 'decisions.jsonl');
writeFileSync(
  LOG,
  Array.from({ length: 40 }, (_, i) => [
    JSON.stringify({ type: 'decision', id: `d${i}`, time: 1_000 + i, route: 'chat', arm: i < 30 ? 'a' : 'b', propensity: 0.5, reason: 'policy' }),
    JSON.stringify({ type: 'reward', id: `d${i}`, time: 1_000 + i, route: 'chat', arm: i < 30 ? 'a' : 'b', reward: i < 30 ? 1 : 0, source: 'response' }),
  ]).flat().join('\n'),
);

const yaml = (from: string) => `
replica_id: r1
listen: { ext_proc: "127.0.0.1:0", admin: "127.0.0.1:0" }
gossip: { listen: "127.0.0.1:0", peers: [] }
routes:
  - name: chat
    arms: [{ name: a, cluster: a }, { name: b, cluster: b }]
    policy: { type: thompson }
    warm_start: { from: ${from}, kind: decision_log, effective_samples: 20 }
`;

async function sidecarFor(from: string, priors?: ReadonlyMap<string, WarmPrior>): Promise<Sidecar> {
  const cfg = parseConfig(yaml(from), { env: {} });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
  return Sidecar.create({ config: cfg.value, logger: silentLogger(), seed: 1, env: {}, ...(priors ? { priors } : {}) });
}

describe('serve with a warm start', () => {
  /** The fleet view of arms a and b of route chat right after start. */
  async function startedFleet(sidecar: Sidecar) {
    try {
      await sidecar.start();
      const ri = sidecar.state.routeIndex('chat')!;
      return [0, 1].map((arm) => sidecar.state.fleet(ri, arm, { n: 0, sum: 0, sumSq: 0 }));
    } finally {
      await sidecar.stop(100);
    }
  }

  it('loads the prior before it serves: the fleet view starts at the scaled history', async () => {
    expect(await startedFleet(await sidecarFor(LOG))).toEqual([
      { n: 15, sum: 15, sumSq: 15 },
      { n: 5, sum: 0, sumSq: 0 },
    ]);
  });

  it('starts from the prior serve built with its file check, without reading the source again', async () => {
    const given: WarmPrior = { at: 2_000, arms: { a: { n: 3, sum: 3, sumSq: 3 }, b: { n: 1, sum: 0, sumSq: 0 } }, linear: null, sourceSamples: 4, scale: 1 };
    // The source is gone by now: only the handed-over prior can be what the route starts from.
    const sidecar = await sidecarFor(join(dir, 'gone.jsonl'), new Map([['chat', given]]));
    expect(await startedFleet(sidecar)).toEqual([
      { n: 3, sum: 3, sumSq: 3 },
      { n: 1, sum: 0, sumSq: 0 },
    ]);
  });

  it('refuses to start when the warm-start file is missing, naming the field, the file and the code', async () => {
    const missing = join(dir, 'missing.jsonl');
    const sidecar = await sidecarFor(missing);
    try {
      await expect(sidecar.start()).rejects.toMatchObject({ code: 'EB_CONFIG_READ', message: `routes[0].warm_start.from: cannot read ${missing}: file not found [EB_CONFIG_READ]` });
    } finally {
      await sidecar.stop(100);
    }
  });
});
