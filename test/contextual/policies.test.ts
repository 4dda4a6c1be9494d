import { describe, expect, it } from 'vitest';
import { ContextualChooser } from '../../src/contextual/chooser.js';
import { parseContextual, type ContextualSetup } from '../../src/contextual/config.js';
import { createRng } from '../../src/util/rng.js';

function setup(policy: Record<string, unknown>): ContextualSetup {
  const r = parseContextual({ features: [{ name: 'tenant', header: 'x-tenant', type: 'categorical', buckets: 16 }], policy });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}
/** Three segments, each with its own best arm (success probability 0.9 against 0.3). */
const BEST: Record<string, number> = { gold: 0, silver: 1, bronze: 2 };
const SEGMENTS = Object.keys(BEST);

function train(c: ContextualChooser, steps: number, seed: number): void {
  const rng = createRng(seed);
  for (let t = 0; t < steps; t++) {
    const seg = SEGMENTS[t % 3]!;
    c.setContextRecord({ 'x-tenant': seg });
    const arm = c.choose(rng);
    c.observe(arm, rng.next() < (arm === BEST[seg] ? 0.9 : 0.3) ? 1 : 0);
  }
}

describe.each([{ type: 'linucb' }, { type: 'lints' }])('$type', (policy) => {
  it('learns a different best arm per header-identified segment', () => {
    const c = new ContextualChooser(setup({ ...policy, min_share: 0.01 }), 3);
    train(c, 3000, 1);
    const out = new Float64Array(3);
    for (const seg of SEGMENTS) {
      c.setContextRecord({ 'x-tenant': seg });
      c.propensities(out);
      expect(out[BEST[seg]!], seg).toBeGreaterThan(0.9);
    }
  });

  it('propensities sum to 1, respect the floor, and match the frequencies of choose()', () => {
    const c = new ContextualChooser(setup({ ...policy, min_share: 0.05 }), 3);
    train(c, 60, 2);
    c.setContextRecord({ 'x-tenant': 'silver' });
    const p = c.propensities(new Float64Array(3));
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (const v of p) expect(v).toBeGreaterThanOrEqual(0.05 - 1e-12);
    const rng = createRng(9);
    const counts = [0, 0, 0];
    const N = 20_000;
    for (let i = 0; i < N; i++) counts[c.choose(rng)]!++;
    // MC propensities (2000 draws) have sd ≤ 0.0112; the empirical shares ≤ 0.0036.
    for (let a = 0; a < 3; a++) expect(Math.abs(counts[a]! / N - p[a]!), `arm ${a}`).toBeLessThan(0.04);
  });

  it('never chooses an ineligible arm, and gives it propensity 0', () => {
    const c = new ContextualChooser(setup({ ...policy, min_share: 0.1 }), 3);
    train(c, 300, 3);
    const eligible = Uint8Array.of(1, 0, 1);
    c.setContextRecord({ 'x-tenant': 'silver' });
    const rng = createRng(4);
    for (let i = 0; i < 500; i++) expect(c.choose(rng, eligible)).not.toBe(1);
    const p = c.propensities(new Float64Array(3), eligible);
    expect(p[1]).toBe(0);
    expect(p[0]! + p[2]!).toBeCloseTo(1, 12);
    expect(c.choose(rng, new Uint8Array(3))).toBe(-1);
  });

  it('is a pure function of the statistics, the context and the seed', () => {
    const a = new ContextualChooser(setup(policy), 3);
    const b = new ContextualChooser(setup(policy), 3);
    train(a, 500, 5);
    train(b, 500, 5);
    const ra = createRng(11);
    const rb = createRng(11);
    a.setContextRecord({ 'x-tenant': 'bronze' });
    b.setContextRecord({ 'x-tenant': 'bronze' });
    for (let i = 0; i < 50; i++) expect(a.choose(ra)).toBe(b.choose(rb));
  });
});

describe('linucb', () => {
  it('has exact propensities: all the policy mass on the highest bound', () => {
    const c = new ContextualChooser(setup({ type: 'linucb', min_share: 0 }), 3);
    train(c, 300, 6);
    c.setContextRecord({ 'x-tenant': 'gold' });
    const p = Array.from(c.propensities(new Float64Array(3)));
    expect(p.filter((v) => v === 1)).toHaveLength(1);
    expect(p.filter((v) => v === 0)).toHaveLength(2);
  });
});
