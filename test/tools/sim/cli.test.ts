import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../../src/cli/io.js';
import { run } from '../../../src/cli/simulate.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eb-sim-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sim(argv: string[]) {
  const io = captureIo();
  const code = await run(argv, io);
  return { code, out: io.out, err: io.err.join('\n') };
}

describe('envoy-bandit simulate', () => {
  it('prints a table per scenario and writes results.csv and a self-contained report.html', async () => {
    const out = join(dir, 'out');
    const r = await sim(['--scenario', 'failing-arm', '--policies', 'static,thompson,discounted_thompson,epsilon_greedy', '--seeds', '2', '--duration', '40', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const text = r.out.join('\n');
    expect(text).toMatch(/== failing-arm/);
    expect(text).toMatch(/^discounted_thompson\s/m);
    expect(text).toMatch(/target failing-arm: best drift-aware discounted_thompson/);
    const csv = (await readFile(join(out, 'results.csv'), 'utf8')).trim().split('\n');
    expect(csv).toHaveLength(5);
    expect(csv[0]).toMatch(/^scenario,policy,seeds,requests,reward_mean/);
    expect(csv[1]).toMatch(/^failing-arm,static,2,4000,/);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/<svg[^>]*>/);
    expect((html.match(/<polyline/g) ?? []).length).toBe(4);
    expect(html).not.toMatch(/<script|<link|src=|url\(/i);
  });

  it('runs a YAML scenario file, including its own policies', async () => {
    const file = join(dir, 'mine.yaml');
    await writeFile(
      file,
      'name: mine\nduration: 10\narms:\n  - { name: a, p: 0.3 }\n  - { name: b, p: 0.6 }\npolicies:\n  fast_forget: { type: discounted_thompson, gamma: 0.99, min_share: 0 }\n',
    );
    const r = await sim(['--scenario', file, '--policies', 'fast_forget,static', '--seeds', '2']);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/^fast_forget\s/m);
  });

  it('rejects bad input with exit 1 and a message naming it', async () => {
    const unknown = await sim(['--scenario', 'no-such-scenario']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/unknown scenario "no-such-scenario"/);

    const policy = await sim(['--scenario', 'bernoulli-2', '--policies', 'thompson,bogus']);
    expect(policy.code).toBe(1);
    expect(policy.err).toMatch(/unknown policy "bogus"/);

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'name: bad\narms:\n  - { name: a, p: 2 }\n');
    const yaml = await sim(['--scenario', bad]);
    expect(yaml.code).toBe(1);
    expect(yaml.err).toMatch(/bad\.yaml is invalid/);
    expect(yaml.err).toMatch(/arms\[0\]\.p: must be ≤ 1/);

    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'name: [unclosed\n');
    const syntax = await sim(['--scenario', broken]);
    expect(syntax.code).toBe(1);
    expect(syntax.err).toMatch(/line \d+, col \d+: YAML/);

    expect((await sim([])).code).toBe(1);
    expect((await sim(['--scenario', 'bernoulli-2', '--seeds', '0'])).err).toMatch(/--seeds must be/);
    expect((await sim(['--scenario', 'bernoulli-2', '--frobnicate'])).err).toMatch(/unknown flag --frobnicate/);
  });

  it('a scenario policy that names an arm the route lacks fails before running', async () => {
    const file = join(dir, 'fixed.yaml');
    await writeFile(file, 'name: fx\narms:\n  - { name: a }\npolicies:\n  pin: { type: fixed, arm: zz }\n');
    const r = await sim(['--scenario', file, '--policies', 'pin']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/policy pin/);
  });
});
