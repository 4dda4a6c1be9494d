import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import type { HeaderList } from '../../src/extproc/handler.js';
import { DecisionIdCodec } from '../../src/reward/decision-id.js';
import { ReplicaState, routeShapes } from '../../src/state/replica-state.js';
import { ManualClock } from '../../src/util/clock.js';
import { createRng } from '../../src/util/rng.js';

/** Parses a YAML config for tests; throws with every issue if it is invalid. */
export function testConfig(yaml: string, env: Record<string, string> = {}): Config {
  const res = parseConfig(yaml, { env: { HOSTNAME: 'test-host', ...env }, hostname: 'test-host' });
  if (!res.ok) throw new Error(res.error.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return res.value;
}

export function testEngine(config: Config, seed = 1, clock = new ManualClock(1_700_000_000_000), extra: Pick<EngineOptions, 'steps' | 'propensities'> = {}) {
  const state = new ReplicaState(config.replica_id, routeShapes(config), clock);
  const engine = new Engine({
    config,
    state,
    rng: createRng(seed),
    clock,
    metrics: null,
    logger: null,
    ids: new DecisionIdCodec(Buffer.alloc(32, 1), config.replica_id),
    ...extra,
  });
  return { engine, state, clock };
}

/** A HeaderList over a plain object (lower-case names). */
export function headerList(map: Record<string, string>): HeaderList {
  const entries = Object.entries(map);
  return {
    length: entries.length,
    name: (i) => entries[i]![0],
    value: (i) => entries[i]![1],
    get: (n) => map[n],
  };
}
