import { describe, expect, it } from 'vitest';
import { FeatureMap, hashString } from '../../src/contextual/features.js';
import { formatIssues } from '../../src/config/issues.js';
import { parseConfig } from '../../src/config/load.js';
import { parseContextual } from '../../src/contextual/config.js';

const map = new FeatureMap([
  { name: 'tenant', header: 'X-Tenant', type: 'categorical', buckets: 8 },
  { name: 'len', header: 'x-len', type: 'numeric', transform: 'log', scale: 1000 },
  { name: 'temp', header: 'x-temp', type: 'numeric', transform: 'clip', min: 0, max: 2 },
  { name: 'size', header: 'x-size', type: 'numeric', transform: 'bucket', edges: [10, 100] },
]);
const x = (h: Record<string, string>) => Array.from(map.extractRecord(h, new Float64Array(map.dim)));

describe('feature extraction', () => {
  it('lays out an intercept, then each feature in declared order, and reads headers lower-case', () => {
    expect(map.dim).toBe(1 + 8 + 1 + 1 + 3);
    expect(map.headers).toEqual(['x-tenant', 'x-len', 'x-temp', 'x-size']);
    expect(x({})).toEqual([1, ...new Array(13).fill(0)]);
  });

  it('one-hots a categorical value into its hash bucket, the same slot every time', () => {
    const v = x({ 'x-tenant': 'gold' });
    const slot = 1 + (hashString('gold') % 8);
    expect(v[slot]).toBe(1);
    expect(v.slice(1, 9).reduce((a, b) => a + b, 0)).toBe(1);
    expect(x({ 'x-tenant': 'gold' })).toEqual(v);
  });

  it('applies the stated numeric transforms: log scaled to [0,1], clip, bucket one-hot', () => {
    expect(x({ 'x-len': '999' })[9]).toBeCloseTo(Math.log1p(999) / Math.log1p(1000), 12);
    expect(x({ 'x-len': '1e9' })[9]).toBe(1);
    expect(x({ 'x-len': '-5' })[9]).toBe(0);
    expect(x({ 'x-temp': '0.5' })[10]).toBe(0.25);
    expect(x({ 'x-temp': '7' })[10]).toBe(1);
    expect(x({ 'x-size': '5' }).slice(11)).toEqual([1, 0, 0]);
    expect(x({ 'x-size': '10' }).slice(11)).toEqual([0, 1, 0]);
    expect(x({ 'x-size': '1000' }).slice(11)).toEqual([0, 0, 1]);
  });

  it('leaves a missing or non-numeric value at 0', () => {
    expect(x({ 'x-len': 'abc', 'x-size': '' })).toEqual(x({}));
  });
});

describe('contextual config', () => {
  it('names the path of every bad field', () => {
    const r = parseContextual(
      {
        features: [
          { name: 'a', header: 'x-a', type: 'numeric', transform: 'clip', min: 2, max: 1 },
          { name: 'a', header: 'x b', type: 'categorical' },
          { name: 'c', header: 'x-c', type: 'numeric', transform: 'bucket', edges: [3, 2] },
        ],
        policy: { type: 'linucb', alpha: -1, extra: 1 },
      },
      ['routes', 0],
    );
    expect(r.ok).toBe(false);
    const lines = formatIssues(r.ok ? [] : r.error).join('\n');
    expect(lines).toContain('routes[0].features[0].max: max must be greater than min');
    expect(lines).toContain('routes[0].features[1].header');
    expect(lines).toContain('routes[0].features[2].edges: edges must be strictly increasing');
    expect(lines).toContain('routes[0].policy.alpha');
    expect(lines).toContain('routes[0].policy.extra: unknown key');
  });

  it('rejects a feature set wider than the dimension bound', () => {
    const r = parseContextual({ features: [{ name: 'a', header: 'x-a', type: 'categorical', buckets: 63 }, { name: 'b', header: 'x-b', type: 'categorical', buckets: 2 }], policy: { type: 'lints' } });
    expect(r.ok ? '' : formatIssues(r.error).join()).toMatch(/feature dimension 66 .* exceeds 64/);
  });

  it('fills defaults: 16 buckets, alpha 1, v 0.5, lambda 1', () => {
    const r = parseContextual({ features: [{ name: 'a', header: 'x-a', type: 'categorical' }], policy: { type: 'lints' } });
    expect(r.ok && r.value.features.dim).toBe(17);
    expect(r.ok && r.value.policy).toMatchObject({ type: 'lints', v: 0.5, lambda: 1 });
  });

  it('is the main config schema: a policy block parses to exactly what the same block gives in a route', () => {
    const block = { type: 'lints', v: 0.3, min_share: 0.02, drift: { mode: 'half_life', half_life: '10m' } };
    const features = [{ name: 'tenant', header: 'X-Tenant', type: 'categorical' }];
    const r = parseContextual({ features, policy: block });
    const cfg = parseConfig(JSON.stringify({ replica_id: 'r', routes: [{ name: 'chat', arms: [{ name: 'a', cluster: 'a' }], policy: block, features }] }), { env: {}, hostname: 'h' });
    expect(r.ok && cfg.ok).toBe(true);
    if (!r.ok || !cfg.ok) return;
    expect(r.value.policy).toEqual(cfg.value.routes[0]!.policy);
    expect(r.value.policy.drift).toEqual({ mode: 'half_life', half_life_ms: 600_000 });
    expect(r.value.features.specs).toEqual(cfg.value.routes[0]!.features);
    const ff = parseContextual({ features, policy: { type: 'thompson' } });
    expect(ff.ok ? '' : formatIssues(ff.error).join()).toContain('policy.type: policy thompson does not read features; use linucb or lints');
    const window = parseContextual({ features, policy: { type: 'linucb', drift: { mode: 'window', size: 10 } } });
    expect(window.ok ? '' : formatIssues(window.error).join()).toContain('policy.drift: linucb and lints decay by time only');
  });
});
