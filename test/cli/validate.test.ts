import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFlags, parseLogLevel, SERVER_FLAGS } from '../../src/cli/args.js';
import { captureIo } from '../../src/cli/io.js';
import { COMMANDS, isOwnModuleMissing, main, type CommandSpec } from '../../src/cli/main.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eb-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[], commands?: Record<string, CommandSpec>, env: Record<string, string> = {}) {
  const io = captureIo(env);
  const code = await main(argv, io, commands);
  return { code, out: io.out, err: io.err };
}

const fromFile = (file: string): CommandSpec => {
  const url = pathToFileURL(file).href;
  return { summary: 'test', module: url, load: () => import(url) };
};

describe('main', () => {
  it('prints usage for --help (exit 0) and without a command (exit 1)', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out[0]).toMatch(/^usage: envoy-bandit <command>/);
    for (const name of ['serve', 'aggregator', 'validate', 'demo', 'simulate']) expect(help.out.join('\n')).toMatch(new RegExp(`^  ${name} `, 'm'));
    const none = await run([]);
    expect(none.code).toBe(1);
    expect(none.err[0]).toMatch(/^usage:/);
  });

  it('rejects an unknown command with usage, exit 1', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(1);
    expect(r.err[0]).toBe('envoy-bandit: unknown command "frobnicate"');
    expect(r.err.join('\n')).toMatch(/usage:/);
    expect((await run(['toString'])).code).toBe(1);
  });

  it('every command of the contract is in the table', () => {
    expect(Object.keys(COMMANDS).sort()).toEqual(['aggregator', 'ctl', 'demo', 'evaluate', 'loadtest', 'serve', 'simulate', 'validate']);
  });

  it('reports a command whose module does not exist yet cleanly, exit 2', async () => {
    const specifier = './no-such-command.js';
    const table = { later: { summary: 'not written yet', module: specifier, load: () => import(/* @vite-ignore */ specifier) } };
    const r = await run(['later', '--config', 'x'], table);
    expect(r.code).toBe(2);
    expect(r.err).toEqual(['envoy-bandit: command later is not available yet']);
  });

  it('tells a missing dependency of a command apart from a missing command', async () => {
    const file = join(dir, 'broken-cmd.mjs');
    await writeFile(file, "import './dependency-that-is-missing.mjs';\nexport async function run() { return 0; }\n");
    const r = await run(['broken'], { broken: fromFile(file) });
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/^envoy-bandit: command broken failed to load: /);
    expect(r.err[0]).toMatch(/dependency-that-is-missing/);
  });

  it('returns the command’s exit code and turns a throw into exit 2', async () => {
    const okFile = join(dir, 'ok-cmd.mjs');
    await writeFile(okFile, 'export async function run(argv, io) { io.stdout(argv.join(",")); return 3; }\n');
    const throwFile = join(dir, 'throw-cmd.mjs');
    await writeFile(throwFile, 'export async function run() { throw new Error("boom"); }\n');
    const noRunFile = join(dir, 'norun-cmd.mjs');
    await writeFile(noRunFile, 'export const x = 1;\n');
    const table = { ok: fromFile(okFile), throws: fromFile(throwFile), norun: fromFile(noRunFile) };
    expect(await run(['ok', 'a', 'b'], table)).toEqual({ code: 3, out: ['a,b'], err: [] });
    expect(await run(['throws'], table)).toEqual({ code: 2, out: [], err: ['envoy-bandit throws: boom'] });
    expect((await run(['norun'], table)).code).toBe(2);
  });

  it('help <command> shows the command’s help', async () => {
    const r = await run(['help', 'validate']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('usage: envoy-bandit validate --config FILE [--envoy FILE] [--json] [--skip-files]');
  });
});

describe('isOwnModuleMissing', () => {
  it('matches Node’s message for the command’s own file only', () => {
    const own = Object.assign(new Error("Cannot find module '/app/dist/src/cli/demo.js' imported from /app/dist/src/cli/main.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const dep = Object.assign(new Error("Cannot find module '/app/dist/src/tools/demo/run.js' imported from /app/dist/src/cli/demo.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(isOwnModuleMissing(own, './demo.js')).toBe(true);
    expect(isOwnModuleMissing(dep, './demo.js')).toBe(false);
    expect(isOwnModuleMissing(new Error('boom'), './demo.js')).toBe(false);
    expect(isOwnModuleMissing(undefined, './demo.js')).toBe(false);
  });
});

describe('validate', () => {
  it.each([
    ['bandit.yaml', 'ok: 2 routes (chat, completions)'],
    ['minimal.yaml', 'ok: 1 route (chat)'],
  ])('accepts examples/%s', async (file, line) => {
    const r = await run(['validate', '--config', join(EXAMPLES, file)]);
    expect(r).toEqual({ code: 0, out: [line], err: [] });
  });

  it('accepts the file as a positional argument', async () => {
    expect((await run(['validate', join(EXAMPLES, 'minimal.yaml')])).code).toBe(0);
  });

  it('expands env references from the io env', async () => {
    const file = join(dir, 'env.yaml');
    await writeFile(file, 'routes: [{ name: ${EB_ROUTE}, arms: [{ name: a, cluster: c }] }]\n');
    expect(await run(['validate', '--config', file], undefined, { EB_ROUTE: 'from-env' })).toEqual({ code: 0, out: ['ok: 1 route (from-env)'], err: [] });
    const unset = await run(['validate', '--config', file]);
    expect(unset.code).toBe(1);
    expect(unset.err.join('\n')).toMatch(/routes\[0\]\.name: environment variable EB_ROUTE is not set/);
  });

  it.each([
    [['validate'], /--config FILE is required/],
    [['validate', '--bogus'], /unknown flag --bogus/],
    [['validate', '--config'], /flag --config needs a value/],
    [['validate', '--config', 'a.yaml', 'b.yaml'], /unexpected argument "b.yaml"/],
    [['validate', 'a.yaml', 'b.yaml'], /unexpected argument "b.yaml"/],
  ])('usage error for %j, exit 1', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(message);
  });

  it('--help prints its usage, exit 0', async () => {
    const r = await run(['validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^usage: envoy-bandit validate/);
  });
});

describe('args', () => {
  it('parses the server flags', () => {
    const r = parseFlags(['--config', 'c.yaml', '--log-level', 'debug'], SERVER_FLAGS);
    expect(r.ok && r.value.values).toEqual({ config: 'c.yaml', 'log-level': 'debug' });
    const short = parseFlags(['-c', 'x.yaml'], SERVER_FLAGS);
    expect(short.ok && short.value.values.config).toBe('x.yaml');
  });

  it('names the bad flag', () => {
    const r = parseFlags(['--confg', 'x'], SERVER_FLAGS);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.message).toBe('unknown flag --confg');
      expect(r.error.code).toBe('EB_USAGE');
    }
    const v = parseFlags(['--help=yes'], SERVER_FLAGS);
    expect(!v.ok && v.error.message).toBe('flag --help does not take a value');
  });

  it('checks --log-level', () => {
    expect(parseLogLevel('warn')).toEqual({ ok: true, value: 'warn' });
    expect(parseLogLevel(undefined)).toEqual({ ok: true, value: undefined });
    const bad = parseLogLevel('loud');
    expect(!bad.ok && bad.error.message).toMatch(/--log-level must be one of trace, debug, info/);
  });
});
