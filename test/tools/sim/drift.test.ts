import { describe, expect, it } from 'vitest';
import { builtinScenario } from '../../../src/tools/sim/builtins.js';
import { BUILTIN_POLICIES } from '../../../src/tools/sim/policies.js';
import { runScenario, type RunResult } from '../../../src/tools/sim/simulator.js';

const SEEDS = [1, 2, 3, 4];
const policy = (name: string) => BUILTIN_POLICIES.find((p) => p.name === name)!;

function runs(scenarioName: string, name: string, durationS: number): RunResult[] {
  const s = builtinScenario(scenarioName)!;
  return SEEDS.map((seed) => runScenario(s, policy(name), { seed, durationS }));
}

/** Mean seconds to < 10%, counting 'never' as the rest of the run (a lower bound on the true time). */
function meanRecovery(rs: RunResult[], restS: number): number {
  return rs.reduce((t, r) => t + (r.recoveryMs === null || r.recoveryMs === undefined ? restS : r.recoveryMs / 1000), 0) / rs.length;
}

describe('drift-aware forms after an abrupt drift (abrupt-drift, same seeds)', () => {
  // Event at 40 s; 30 s of run after it.
  const DURATION = 70;
  const REST = DURATION - 40;
  for (const base of ['thompson', 'epsilon_greedy']) {
    it(`discounted_${base} and sliding_${base} leave the degraded arm at least twice as fast as ${base}`, () => {
      const stationary = meanRecovery(runs('abrupt-drift', base, DURATION), REST);
      for (const form of ['discounted', 'sliding']) {
        const drift = meanRecovery(runs('abrupt-drift', `${form}_${base}`, DURATION), REST);
        expect(drift, `${form}_${base} ${drift}s vs ${base} ${stationary}s`).toBeLessThan(0.5 * stationary);
      }
    });
  }

  it('post-drift regret of discounted Thompson is at most 0.6x stationary Thompson', () => {
    const at = (rs: RunResult[]) => rs.reduce((t, r) => t + r.regret, 0) / rs.length;
    expect(at(runs('abrupt-drift', 'discounted_thompson', DURATION))).toBeLessThan(0.6 * at(runs('abrupt-drift', 'thompson', DURATION)));
  });
});

describe('failing-arm: Thompson with drift rolls the failed arm back', () => {
  // Failure at 30 s. Bound: discounted (gamma 0.999: ~10 s of memory at 100 rps) within 6 s,
  // sliding (2,000 observations: 20 s) within 10 s, on every seed.
  it('discounted_thompson holds the failed arm under 10% within 6 s, sliding_thompson within 10 s', () => {
    for (const [name, bound] of [['discounted_thompson', 6000], ['sliding_thompson', 10_000]] as const) {
      for (const r of runs('failing-arm', name, 50)) {
        expect(r.recoveryMs, `${name} seed ${r.seed}`).not.toBeNull();
        expect(r.recoveryMs!, `${name} seed ${r.seed}`).toBeLessThanOrEqual(bound);
      }
    }
  });

  it('and faster than stationary Thompson', () => {
    const stationary = meanRecovery(runs('failing-arm', 'thompson', 50), 20);
    expect(meanRecovery(runs('failing-arm', 'discounted_thompson', 50), 20)).toBeLessThan(0.6 * stationary);
  });
});
