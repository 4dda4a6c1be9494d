import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configWarnings } from '../../src/config/warnings.js';

const config = (drift: string, fleet: string) => {
  const yaml = `
replica_id: r1
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms: [{ name: a, cluster: c_a }, { name: b, cluster: c_b }]
    policy: { type: thompson, drift: ${drift} }
${fleet}
`;
  const r = parseConfig(yaml, { env: {} });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
};
const GOSSIP = 'gossip: { listen: 127.0.0.1:7946, peers: [127.0.0.1:7947] }';

describe('config warnings: drift forms in a fleet', () => {
  it('discount and window with gossip: warned at the drift mode, naming half_life as the fleet-wide form', () => {
    for (const drift of ['{ mode: discount, gamma: 0.999 }', '{ mode: window, size: 500 }']) {
      const w = configWarnings(config(drift, GOSSIP));
      expect(w).toEqual([expect.objectContaining({ path: 'routes[0].policy.drift.mode' })]);
      expect(w[0]!.message).toMatch(/own observations.*dead replica's slot keeps full weight.*half_life/);
    }
  });

  it('half_life in a fleet, and any form on a lone replica: no warning', () => {
    expect(configWarnings(config('{ mode: half_life, half_life: 10m }', GOSSIP))).toEqual([]);
    expect(configWarnings(config('{ mode: discount, gamma: 0.999 }', ''))).toEqual([]);
  });
});

describe('config warnings: unused certificates', () => {
  const TLS = 'tls: { cert: /c.crt, key: /c.key, ca: /ca.crt }';
  it('tls without gossip or an aggregator is warned at tls; with either it is not', () => {
    expect(configWarnings(config('{ mode: half_life, half_life: 10m }', TLS))).toEqual([expect.objectContaining({ path: 'tls', message: expect.stringMatching(/nothing uses the certificates/) })]);
    expect(configWarnings(config('{ mode: half_life, half_life: 10m }', `${TLS}\n${GOSSIP}`))).toEqual([]);
    expect(configWarnings(config('{ mode: half_life, half_life: 10m }', `${TLS}\naggregator: { address: 127.0.0.1:7950 }`))).toEqual([]);
  });
});
