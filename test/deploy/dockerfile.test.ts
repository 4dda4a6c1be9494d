/**
 * The Dockerfile without a Docker engine: (a) its structure (stages, non-root
 * user, HEALTHCHECK, npm ci only, COPY sources that exist and are not
 * excluded by .dockerignore); (b) its steps replayed in a temp dir — the
 * runtime stage's `npm ci --omit=dev`, and the runtime layout (dist/ from the
 * build, bin/, proto/, envoy/, production dependencies only) running
 * `envoy-bandit validate` and the HEALTHCHECK command.
 */
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const NPM_TIMEOUT_MS = 80_000;
/** The npm major bundled with the Dockerfile's base image (node:22). */
const IMAGE_NPM_MAJOR = '10';

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Dockerfile → instructions (continuations joined, comments dropped), each tagged with its stage index. */
export function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (cur === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      cur += line.slice(0, -1) + ' ';
      continue;
    }
    logical.push(cur + line);
    cur = '';
  }
  let stage = -1;
  return logical.map((l) => {
    const m = /^(\w+)\s+(.*)$/.exec(l)!;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    return { op, args: m[2]!, stage };
  });
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const ins = parseDockerfile(dockerfile);
const lastStage = Math.max(...ins.map((i) => i.stage));
const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('Dockerfile structure', () => {
  it('has a build stage and a runtime stage', () => {
    const froms = ins.filter((i) => i.op === 'FROM').map((i) => i.args);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms.some((f) => / AS build$/i.test(f))).toBe(true);
    expect(froms.at(-1)).toMatch(/ AS runtime$/i);
    // A supported LTS, pinned by digest; IMAGE_NPM_MAJOR below assumes this base image.
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-bookworm-slim@sha256:[0-9a-f]{64}$/m);
  });

  it('builds with npm ci + npm run build and installs only production deps in the runtime', () => {
    const runs = ins.filter((i) => i.op === 'RUN');
    for (const r of runs) expect(r.args, r.args).not.toMatch(/\bnpm (install|i|add)\b/);
    expect(runs.some((r) => r.stage < lastStage && /\bnpm ci\b/.test(r.args))).toBe(true);
    expect(runs.some((r) => r.stage < lastStage && /\bnpm run build\b/.test(r.args))).toBe(true);
    expect(runs.some((r) => r.stage === lastStage && /\bnpm ci\b.*--omit=dev/.test(r.args))).toBe(true);
  });

  it('runs as a non-root user, with a HEALTHCHECK on /healthz and envoy-bandit as the entrypoint', () => {
    const final = ins.filter((i) => i.stage === lastStage);
    const user = final.filter((i) => i.op === 'USER').at(-1);
    expect(user).toBeDefined();
    expect(user!.args.split(':')[0]).not.toMatch(/^(root|0)$/);
    const hc = final.find((i) => i.op === 'HEALTHCHECK');
    expect(hc?.args).toMatch(/\/healthz/);
    expect(hc?.args).not.toMatch(/\bcurl\b|\bwget\b/);
    expect(final.find((i) => i.op === 'ENTRYPOINT')?.args).toMatch(/envoy-bandit/);
  });

  it('COPYs only sources that exist and that .dockerignore lets through', () => {
    const copies = ins.filter((i) => i.op === 'COPY' && !/--from=/.test(i.args));
    expect(copies.length).toBeGreaterThan(3);
    for (const c of copies) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
        expect(ignore, `COPY ${src} is excluded by .dockerignore`).not.toContain(src.split('/')[0]);
      }
    }
    // The runtime copies what bin/ needs at run time.
    const runtimeCopies = ins.filter((i) => i.op === 'COPY' && i.stage === lastStage).map((i) => i.args);
    for (const need of ['dist', 'bin', 'proto', 'envoy']) expect(runtimeCopies.some((a) => a.includes(need)), need).toBe(true);
  });

  it('keeps secrets, git and local tools out of the build context', () => {
    for (const p of ['.git', 'node_modules', '.tools', 'dist', '**/*.secret']) expect(ignore).toContain(p);
  });
});

describe('Dockerfile steps, replayed without Docker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-docker-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the runtime stage’s `npm ci --omit=dev` accepts package.json and package-lock.json', () => {
    const ci = join(dir, 'ci');
    mkdirSync(ci);
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(ci, f));
    // The image runs the npm its node:22 base bundles (10.x); use that major here too, so this
    // replays the image's step. (npm 11 is stricter about lock entries for other platforms.)
    const local = spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.trim();
    const [cmd, pre] = local.startsWith(`${IMAGE_NPM_MAJOR}.`) ? ['npm', []] : ['npx', ['-y', `npm@${IMAGE_NPM_MAJOR}`]];
    const r = spawnSync(cmd, [...pre, 'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: ci, encoding: 'utf8', timeout: NPM_TIMEOUT_MS });
    expect(r.status, `${cmd} ${pre.join(' ')} ci failed:\n${(r.stderr ?? '').slice(0, 1500)}`).toBe(0);
    expect(existsSync(join(ci, 'node_modules', 'zod'))).toBe(true);
    expect(existsSync(join(ci, 'node_modules', 'vitest'))).toBe(false);
    expect(existsSync(join(ci, 'node_modules', 'typescript'))).toBe(false);
  }, NPM_TIMEOUT_MS + 10_000);

  it('the runtime layout (production deps only) validates a config and answers the HEALTHCHECK', async () => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) throw new Error('dist/ is not built: run `npm run build` first');
    const app = join(dir, 'app');
    mkdirSync(app);
    for (const f of ['package.json', 'package-lock.json', 'bin', 'proto', 'envoy', 'examples']) cpSync(join(ROOT, f), join(app, f), { recursive: true });
    cpSync(join(ROOT, 'dist', 'src'), join(app, 'dist', 'src'), { recursive: true });
    // Production dependencies as `npm ci --omit=dev` would lay them out, taken from the installed tree.
    const ls = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8', timeout: NPM_TIMEOUT_MS });
    const paths = ls.stdout.split('\n').filter((p) => p.includes('node_modules'));
    expect(paths.length).toBeGreaterThan(5);
    for (const p of paths) {
      const rel = p.slice(ROOT.length + 1);
      if (rel.split('node_modules').length === 2) cpSync(p, join(app, rel), { recursive: true });
    }
    expect(existsSync(join(app, 'node_modules', 'typescript'))).toBe(false);

    const cli = (args: string[]) => spawnSync(process.execPath, [join(app, 'bin', 'envoy-bandit.js'), ...args], { cwd: app, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' } });
    const good = cli(['validate', '--config', 'examples/minimal.yaml']);
    expect(good.status, good.stderr).toBe(0);
    writeFileSync(join(app, 'bad.yaml'), 'routes: []\n');
    const bad = cli(['validate', '--config', 'bad.yaml']);
    expect(bad.status).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/routes/);

    // The HEALTHCHECK's command, against a stand-in admin server, then against nothing.
    const hc = /HEALTHCHECK[^\n]*\n?\s*CMD \[("node", "-e", (".*"))\]/.exec(dockerfile);
    expect(hc).not.toBeNull();
    const script = JSON.parse(hc![2]!) as string;
    const server = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    // Asynchronous: the stand-in server lives in this process and must keep answering.
    const run = (p: number) =>
      new Promise<number | null>((r) => {
        const child = execFile(process.execPath, ['-e', script], { timeout: 10_000, env: { ADMIN_PORT: String(p) } });
        child.once('exit', (code) => r(code));
      });
    expect(await run(port)).toBe(0);
    await new Promise<void>((r) => server.close(() => r()));
    expect(await run(port)).toBe(1);
  }, NPM_TIMEOUT_MS + 30_000);
});
