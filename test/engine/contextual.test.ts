import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { formatIssues } from '../../src/config/issues.js';
import { createRng } from '../../src/util/rng.js';
import { headerList, testConfig, testEngine } from '../support/engine.js';
import { SEGMENT_ARMS, SEGMENT_P, SEGMENTS } from '../support/segments.js';

const yaml = (policy: string, extra = '') => `
replica_id: r1
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms:
${SEGMENT_ARMS.map((a) => `      - { name: ${a}, cluster: ${a.replace('-', '_')} }`).join('\n')}
    policy: ${policy}
    sticky: null
    guardrails: null
${extra}`;
const FEATURES = `    features:
      - { name: tenant, header: x-tenant, type: categorical, buckets: 16 }
`;
const req = (tenant: string) => headerList({ ':path': '/v1/chat/x', ':authority': 'h', 'x-tenant': tenant });

describe.each(['linucb', 'lints'])('a %s route in the engine', (type) => {
  it('learns from responses and routes each header-identified segment to its own best arm', () => {
    const { engine } = testEngine(testConfig(yaml(`{ type: ${type}, min_share: 0.01 }`, FEATURES)), 5, undefined, { propensities: true });
    const route = engine.route('chat')!;
    const rng = createRng(6);
    const tail: Record<string, number[]> = Object.fromEntries(SEGMENTS.map((s) => [s, [0, 0, 0]]));
    for (let i = 0; i < 3000; i++) {
      const seg = SEGMENTS[i % 3]!;
      const d = engine.decide(route, req(seg));
      expect(d.context).toEqual({ 'x-tenant': seg });
      expect(d.propensity).toBeGreaterThan(0);
      if (i >= 2100) tail[seg]![d.arm]!++;
      engine.onResponse(d, rng.next() < SEGMENT_P[seg]![d.arm]! ? 200 : 500, undefined, 5);
    }
    // The context step runs on this route's plan, before probation and the policy.
    expect(engine.stepsFor(route).map((s) => s.name)).toEqual(['paused', 'all-quarantined', 'context', 'probation', 'policy']);
    for (const seg of SEGMENTS) {
      const best = SEGMENT_P[seg]!.indexOf(Math.max(...SEGMENT_P[seg]!));
      const counts = tail[seg]!;
      expect(counts[best]! / counts.reduce((a, b) => a + b, 0), seg).toBeGreaterThan(0.85);
    }
  });

  it('logs per-request propensities: the chosen arm’s share for that request’s context', () => {
    const { engine } = testEngine(testConfig(yaml(`{ type: ${type}, min_share: 0.05 }`, FEATURES)), 7, undefined, { propensities: true });
    const route = engine.route('chat')!;
    for (let i = 0; i < 600; i++) {
      const seg = SEGMENTS[i % 3]!;
      const d = engine.decide(route, req(seg));
      engine.onResponse(d, d.arm === SEGMENTS.indexOf(seg) ? 200 : 500, undefined, 5);
    }
    // The same arm is the best for one segment and not for the other: its logged propensity follows the request's context.
    for (const [seg, best] of [['gold', 0], ['silver', 1]] as const) {
      for (let i = 0; i < 40; i++) {
        const d = engine.decide(route, req(seg));
        if (d.arm === best) expect(d.propensity, seg).toBeGreaterThan(0.8);
        else expect(d.propensity, seg).toBeLessThan(0.15);
      }
    }
  });
});

describe('contextual route config', () => {
  it('requires features for linucb and lints, and refuses them for context-free policies', () => {
    const missing = parseConfig(yaml('{ type: lints }'), { env: {}, hostname: 'h' });
    expect(missing.ok ? [] : formatIssues(missing.error)).toContain('routes[0].features: required by policy lints: the request features its models read');
    const stray = parseConfig(yaml('{ type: thompson }', FEATURES), { env: {}, hostname: 'h' });
    expect(stray.ok ? [] : formatIssues(stray.error).join()).toMatch(/routes\[0\]\.features: only linucb and lints read features/);
    const bad = parseConfig(yaml('{ type: linucb, alpha: -1 }', '    features: [{ name: t, header: x-t, type: numeric, transform: clip, min: 3, max: 1 }]\n'), { env: {}, hostname: 'h' });
    const lines = bad.ok ? '' : formatIssues(bad.error).join('\n');
    expect(lines).toMatch(/routes\[0\]\.policy\.alpha/);
    expect(lines).toMatch(/routes\[0\]\.features\[0\]\.max: max must be greater than min/);
  });

  it('keeps the learned models across a reload that leaves the features unchanged', () => {
    const cfg = testConfig(yaml('{ type: linucb, min_share: 0 }', FEATURES));
    const { engine } = testEngine(cfg, 9);
    let route = engine.route('chat')!;
    for (let i = 0; i < 300; i++) {
      const d = engine.decide(route, req('gold'));
      engine.onResponse(d, d.arm === 0 ? 200 : 500, undefined, 5);
    }
    const before = Array.from(route.contextual!.arms[0]!.theta);
    engine.reload(testConfig(yaml('{ type: linucb, min_share: 0.01 }', FEATURES)));
    route = engine.route('chat')!;
    engine.shares(route); // the models are rebuilt from the replica state on first use
    route.contextual!.arms[0]!.theta.forEach((t, i) => expect(t).toBeCloseTo(before[i]!, 9));
    expect(before[0]).toBeGreaterThan(0.4);
    expect(engine.decide(route, req('gold')).arm).toBe(0);
    // Other features: other basis, so the statistics start over.
    engine.reload(testConfig(yaml('{ type: linucb, min_share: 0.01 }', FEATURES.replace('buckets: 16', 'buckets: 8'))));
    route = engine.route('chat')!;
    engine.shares(route);
    expect(route.contextual!.arms[0]!.stats.n).toBe(0);
    expect(Array.from(route.contextual!.arms[0]!.theta).every((t) => t === 0)).toBe(true);
  });
});
