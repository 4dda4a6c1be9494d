import { describe, expect, it } from 'vitest';
import { hashSessionKey } from '../../src/sticky/session-key.js';
import { nextGuardPhase } from '../../src/engine/eligibility.js';
import type { DecisionStep } from '../../src/engine/pipeline.js';
import { headerList, testConfig, testEngine } from '../support/engine.js';
import { ManualClock } from '../../src/util/clock.js';

const CONFIG = `
replica_id: r1
routes:
  - name: chat
    match: { path_prefix: /v1/chat }
    arms:
      - { name: model-a, cluster: model_a }
      - { name: model-b, cluster: model_b }
      - { name: model-c, cluster: model_c }
    default_arm: model-a
    allow_force_arm: true
    policy: { type: thompson, min_share: 0.01 }
    sticky: { header: x-session-id }
`;

const request = (extra: Record<string, string> = {}) => headerList({ ':path': '/v1/chat/completions', ...extra });
const clock = () => new ManualClock(1_700_000_000_000);

describe('Decision pipeline', () => {
  it('runs the named steps in order: paused → forced → all-quarantined → sticky → context → budget → probation → policy', () => {
    const { engine } = testEngine(testConfig(CONFIG));
    expect(engine.steps.map((s) => s.name)).toEqual(['paused', 'forced', 'all-quarantined', 'sticky', 'context', 'budget', 'probation', 'policy']);
  });

  it('an inserted step sees the request headers and decides with its reason before the later steps', () => {
    const byTenant: DecisionStep = {
      name: 'tenant',
      run: (ctx) => ctx.headers?.get('x-tenant') === 'gold' && ctx.choose(2, 'forced'),
    };
    const { engine } = testEngine(testConfig(CONFIG), 1, clock(), {
      steps: (std) => [...std.slice(0, 3), byTenant, ...std.slice(3)],
    });
    const route = engine.route('chat')!;
    expect(engine.steps.map((s) => s.name)).toEqual(['paused', 'forced', 'all-quarantined', 'tenant', 'sticky', 'context', 'budget', 'probation', 'policy']);
    for (let i = 0; i < 20; i++) expect(engine.decide(route, request({ 'x-tenant': 'gold' }))).toMatchObject({ arm: 2, reason: 'forced' });
    // Earlier steps still win: a paused route ignores the tenant step.
    engine.setMode('chat', 'paused');
    expect(engine.decide(route, request({ 'x-tenant': 'gold' }))).toMatchObject({ arm: 0, reason: 'paused' });
  });

  it('a first sticky decision pins the session, a forced one does not', () => {
    const { engine, clock: c } = testEngine(testConfig(CONFIG), 5);
    const route = engine.route('chat')!;
    const s1 = hashSessionKey('s1');
    const forced = engine.decide(route, request({ 'x-session-id': 's1', 'x-bandit-force-arm': 'model-c' }));
    expect(forced).toMatchObject({ arm: 2, reason: 'forced' });
    expect(route.sticky!.get(s1, c.now())).toBe(-1);
    const first = engine.decide(route, request({ 'x-session-id': 's1' }));
    expect(first.reason).toBe('policy');
    expect(route.sticky!.get(s1, c.now())).toBe(first.arm);
    expect(engine.decide(route, request({ 'x-session-id': 's1' }))).toMatchObject({ arm: first.arm, reason: 'sticky' });
  });

  it('falls back to the default arm when no step decides', () => {
    const { engine } = testEngine(testConfig(CONFIG), 1, clock(), { steps: (std) => std.filter((s) => s.name !== 'policy') });
    expect(engine.decide(engine.route('chat')!, request())).toMatchObject({ arm: 0, reason: 'fallback' });
  });

  it('a step that throws falls back to the default arm; the decision never throws', () => {
    const broken: DecisionStep = {
      name: 'broken',
      run: () => {
        throw new RangeError('step bug');
      },
    };
    const { engine } = testEngine(testConfig(CONFIG), 1, clock(), { steps: (std) => [broken, ...std] });
    expect(engine.decide(engine.route('chat')!, request())).toMatchObject({ arm: 0, reason: 'fallback' });
  });

  it('rejects two steps with one name', () => {
    expect(() => testEngine(testConfig(CONFIG), 1, clock(), { steps: (std) => [...std, std[0]!] })).toThrow(/"paused" appears twice/);
  });

  it('computes propensities only when asked: by option or by an observer that reads them', () => {
    const plain = testEngine(testConfig(CONFIG));
    expect(plain.engine.decide(plain.engine.route('chat')!, request()).propensity).toBeUndefined();
    const opted = testEngine(testConfig(CONFIG), 1, clock(), { propensities: true });
    expect(opted.engine.decide(opted.engine.route('chat')!, request()).propensity).toBeGreaterThan(0);
    const observed = testEngine(testConfig(CONFIG));
    observed.engine.observe({ propensities: true });
    const p = observed.engine.decide(observed.engine.route('chat')!, request()).propensity;
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThanOrEqual(1);
  });
});

describe('Guardrail phase rules (eligibility.ts rules 3 and 4)', () => {
  it.each([
    ['active', false, 0, 100, 'quarantine'],
    ['probation', false, 0, 100, 'quarantine'],
    ['quarantined', false, 200, 100, 'quarantine'],
    ['quarantined', true, 100, 100, 'probation'],
    ['quarantined', true, 200, 100, 'released'],
    ['active', true, 0, 100, 'judge'],
    ['probation', true, 0, 100, 'judge'],
  ] as const)('%s, eligible=%s, flags until %d, now %d → %s', (phase, eligible, until, now, expected) => {
    expect(nextGuardPhase(phase, eligible, until, now)).toBe(expected);
  });
});
