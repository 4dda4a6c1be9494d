import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
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

async function sidecarFor(from: string): Promise<Sidecar> {
  const cfg = parseConfig(yaml(from), { env: {} });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.error));
  return Sidecar.create({ config: cfg.value, logger: silentLogger(), seed: 1, env: {} });
}

describe('serve with a warm start', () => {
  it('loads the prior before it serves: the fleet view starts at the scaled history', async () => {
    const sidecar = await sidecarFor(LOG);
    try {
      await sidecar.start();
      const ri = sidecar.state.routeIndex('chat')!;
      expect(sidecar.state.fleet(ri, 0, { n: 0, sum: 0, sumSq: 0 })).toEqual({ n: 15, sum: 15, sumSq: 15 });
      expect(sidecar.state.fleet(ri, 1, { n: 0, sum: 0, sumSq: 0 })).toEqual({ n: 5, sum: 0, sumSq: 0 });
    } finally {
      await sidecar.stop(100);
    }
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
