/** Configs for aggregator, gossip and fleet tests, parsed by the real loader. */
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

export interface FixtureOptions {
  replica: string;
  aggregator?: { address: string; log_file?: string; batch?: number; flush?: string; buffer?: number; fsync?: 'always' | 'batch' | 'none' } | null;
  gossip?: { listen: string; peers: string[]; interval?: string; fanout?: number; sync_timeout?: string; secret_file?: string } | null;
  snapshotFile?: string | null;
  stateInterval?: string;
  drift?: string;
}

export function makeConfig(o: FixtureOptions): Config {
  const agg = o.aggregator;
  const g = o.gossip;
  const yaml = [
    `replica_id: ${o.replica}`,
    'listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }',
    'routes:',
    '  - name: chat',
    '    match: { path_prefix: /v1/chat }',
    '    arms: [{ name: model-a, cluster: model_a }, { name: model-b, cluster: model_b }, { name: model-c, cluster: model_c }]',
    `    policy: { type: thompson, model: beta, min_share: 0.05${o.drift ? `, drift: ${o.drift}` : ''} }`,
    '    sticky: null',
    '    guardrails: null',
    agg
      ? `aggregator: { address: ${agg.address}, batch: ${agg.batch ?? 32}, flush: ${agg.flush ?? '20ms'}, buffer: ${agg.buffer ?? 10000}, fsync: ${agg.fsync ?? 'batch'}${agg.log_file ? `, log_file: ${agg.log_file}` : ''} }`
      : '',
    g
      ? `gossip: { listen: ${g.listen}, peers: [${g.peers.join(', ')}], interval: ${g.interval ?? '200ms'}, fanout: ${g.fanout ?? 2}, sync_timeout: ${g.sync_timeout ?? '2s'}${g.secret_file ? `, secret_file: ${g.secret_file}` : ''} }`
      : '',
    `state: { snapshot_file: ${o.snapshotFile ?? 'null'}, interval: ${o.stateInterval ?? '10s'} }`,
    'log: { level: silent }',
  ].join('\n');
  const r = parseConfig(yaml, { env: {}, hostname: o.replica });
  if (!r.ok) throw new Error(`fixture config invalid: ${JSON.stringify(r.error)}\n${yaml}`);
  return r.value;
}
