import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS } from '../../../src/tools/sim/builtins.js';
import { expectedLatencyScore, latencyScore, paramsAt } from '../../../src/tools/sim/arms.js';
import { EventQueue } from '../../../src/tools/sim/event-queue.js';
import { BUILTIN_POLICY_NAMES } from '../../../src/tools/sim/policies.js';
import { parseScenario } from '../../../src/tools/sim/scenario.js';
import { createRng, normal } from '../../../src/util/rng.js';

const issuesOf = (yaml: string) => {
  const r = parseScenario(yaml, BUILTIN_POLICY_NAMES);
  if (r.ok) throw new Error('expected issues');
  return r.error;
};

describe('scenario YAML', () => {
  it('parses a minimal scenario with defaults', () => {
    const r = parseScenario('name: tiny\narms:\n  - name: a\n    p: 0.3\n  - name: b\n    p: 0.4\n');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ kind: 'bernoulli', duration: 60, rps: 100, min_share: 0.01, feedback_delay: 0, validation_arm: 'a', event: null });
    expect(r.value.arms[0]).toMatchObject({ name: 'a', p: 0.3, latency_ms: 100, latency_sigma: 0, added_at: 0, schedule: [] });
  });

  it('names the path of every bad field', () => {
    const issues = issuesOf(`
name: bad
kind: bernoulli
arms:
  - name: a
    p: 1.5
    colour: red
  - name: b
    schedule:
      - { at: 20, p: 0.1 }
      - { at: 10, p: 0.2 }
`);
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('arms[0].p');
    expect(paths).toContain('arms[0].colour');
    expect(issues.find((i) => i.path === 'arms[0].p')!.message).toMatch(/≤ 1/);
  });

  it('checks relations: time order, arm references, duplicates, policies', () => {
    const issues = issuesOf(`
name: rel
validation_arm: zz
event: { at: 10, arm: nope }
static_weights: { ghost: 1 }
arms:
  - name: a
    schedule:
      - { at: 20, p: 0.1 }
      - { at: 10, p: 0.2 }
      - { at: 30 }
  - name: a
policies:
  thompson: { type: thompson }
  mine: { type: discounted_thompson, gamma: 2 }
`);
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath['arms[0].schedule[1].at']).toMatch(/time order/);
    expect(byPath['arms[0].schedule[2]']).toMatch(/must set/);
    expect(byPath['arms[1].name']).toMatch(/duplicate/);
    expect(byPath['validation_arm']).toMatch(/unknown arm "zz"/);
    expect(byPath['event.arm']).toMatch(/unknown arm "nope"/);
    expect(byPath['static_weights.ghost']).toMatch(/unknown arm/);
    expect(byPath['policies.thompson']).toMatch(/built-in/);
    expect(byPath['policies.mine.gamma']).toMatch(/≤ 1/);
  });

  it('reports YAML syntax errors with a line', () => {
    const issues = issuesOf('name: x\narms: [\n  - name: a\n');
    expect(issues[0]!.path).toMatch(/^line \d+/);
    expect(issues[0]!.message).toMatch(/^YAML/);
  });

  it('every built-in scenario defines its validation arm, and its event arm when it has an event', () => {
    expect(BUILTIN_SCENARIOS.map((s) => s.name)).toEqual([
      'bernoulli-2', 'bernoulli-5', 'bernoulli-20', 'continuous', 'abrupt-drift', 'gradual-drift', 'failing-arm', 'delayed-feedback', 'cold-start',
    ]);
    for (const s of BUILTIN_SCENARIOS) {
      const names = s.arms.map((a) => a.name);
      expect(names).toContain(s.validation_arm);
      if (s.event) expect(names).toContain(s.event.arm);
    }
  });
});

describe('arm behaviour', () => {
  it('schedules step and ramp', () => {
    const arm = { name: 'a', p: 0.7, latency_ms: 100, latency_sigma: 0, added_at: 0, schedule: [{ at: 30, p: 0.4, over: 30 }] };
    const out = { p: 0, latencyMs: 0, sigma: 0 };
    expect(paramsAt(arm, 10, out).p).toBeCloseTo(0.7, 12);
    expect(paramsAt(arm, 45, out).p).toBeCloseTo(0.55, 12);
    expect(paramsAt(arm, 90, out).p).toBeCloseTo(0.4, 12);
    const step = { ...arm, schedule: [{ at: 30, p: 0.1, over: 0 }, { at: 50, latency_ms: 300, over: 0 }] };
    expect(paramsAt(step, 40, out)).toEqual({ p: 0.1, latencyMs: 100, sigma: 0 });
    expect(paramsAt(step, 50, out)).toEqual({ p: 0.1, latencyMs: 300, sigma: 0 });
  });

  it('the closed-form expected SLO score matches a Monte Carlo estimate', () => {
    const rng = createRng(11);
    for (const [median, sigma, slo] of [[250, 0.5, 500], [430, 0.35, 500], [800, 0.3, 500]] as const) {
      let sum = 0;
      const m = 100_000;
      for (let i = 0; i < m; i++) sum += latencyScore(median * Math.exp(sigma * normal(rng)), slo);
      expect(expectedLatencyScore(median, sigma, slo)).toBeCloseTo(sum / m, 2);
    }
    expect(expectedLatencyScore(750, 0, 500)).toBeCloseTo(0.5, 12);
  });

  it('the event queue pops by time, equal times in insertion order', () => {
    const q = new EventQueue<string>();
    q.push(5, 'c');
    q.push(1, 'a');
    q.push(5, 'd');
    q.push(3, 'b');
    q.push(5, 'e');
    const out: string[] = [];
    for (let e = q.pop(); e; e = q.pop()) out.push(e[1]);
    expect(out).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

describe('example scenario files', () => {
  it('scenarios/*.yaml are valid', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const dir = new URL('../../../scenarios/', import.meta.url);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const r = parseScenario(await readFile(new URL(f, dir), 'utf8'), BUILTIN_POLICY_NAMES);
      expect(r.ok ? [] : r.error, f).toEqual([]);
    }
  });
});
