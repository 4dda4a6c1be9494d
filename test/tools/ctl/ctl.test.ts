/**
 * `envoy-bandit ctl` against two real sidecars gossiping with each other (admin
 * API with a token, real HTTP), through the same `main()` the binary runs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';
import { parseConfig } from '../../../src/config/load.js';
import { Sidecar } from '../../../src/runtime/sidecar.js';
import type { StatusView } from '../../../src/tools/ctl/status.js';
import { silentLogger } from '../../../src/util/logger.js';
import { freePort } from '../../support/ports.js';
import { sleep } from '../../support/wait.js';

const TOKEN = 'ctl-test-admin-token-0123456789';

describe('envoy-bandit ctl against real sidecars', () => {
  let dir: string;
  const sidecars: Sidecar[] = [];
  let admin1: string;
  let admin2: string;

  const ctl = async (argv: string[], env: Record<string, string> = {}) => {
    const io = captureIo(env);
    const code = await main(['ctl', ...argv], io);
    return { code, out: io.out, err: io.err, text: io.out.join('\n') };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eb-ctl-'));
    writeFileSync(join(dir, 'token'), TOKEN);
    const gossip = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    for (let i = 0; i < 2; i++) {
      const yaml = `
replica_id: replica-${i + 1}
listen: { ext_proc: 127.0.0.1:0, admin: 127.0.0.1:0 }
admin: { token_file: ${join(dir, 'token')} }
routes:
  - name: chat
    arms: [{ name: model-a, cluster: model_a }, { name: model-b, cluster: model_b }]
    policy: { type: thompson, min_share: 0.05 }
gossip: { listen: ${gossip[i]}, peers: [${gossip[1 - i]}], interval: 100ms }
log: { level: silent }
`;
      const c = parseConfig(yaml, { env: {}, hostname: 'h' });
      if (!c.ok) throw new Error(JSON.stringify(c.error));
      const s = await Sidecar.create({ config: c.value, logger: silentLogger(), seed: i + 1, env: {} });
      await s.start();
      sidecars.push(s);
    }
    admin1 = sidecars[0]!.addresses.admin;
    admin2 = sidecars[1]!.addresses.admin;
    // Some learning on replica 1, then wait until replica 2's view holds replica 1's slot.
    const e = sidecars[0]!.engine;
    const route = e.route('chat')!;
    for (let i = 0; i < 40; i++) e.onResponse(e.decide(route, null), i % 4 === 0 ? 500 : 200, undefined, 5);
    for (let t = 0; t < 100 && !sidecars[1]!.state.peers().some((p) => p.replica === 'replica-1' && p.version >= sidecars[0]!.state.ownVersion); t++) await sleep(50);
  }, 30_000);

  afterAll(async () => {
    for (const s of sidecars) await s.stop(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('status prints a table per route and arm, and the replicas in the fleet view with their staleness', async () => {
    const r = await ctl(['--admin', admin2, 'status']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^replica replica-2 via http:\/\/127\.0\.0\.1:\d+ at \d{4}-/);
    expect(r.text).toMatch(/^ {2}replica-1 +40 +\S+ ago$/m);
    expect(r.text).toMatch(/^ {2}replica-2 \(this\) +0 +now$/m);
    expect(r.text).toMatch(/^route chat {2}mode active {2}policy thompson {2}default model-a$/m);
    expect(r.text).toMatch(/^ {2}ARM +STATE +SHARE +MEAN +SAMPLES +REPLICAS$/m);
    expect(r.text).toMatch(/^ {2}model-a +active +\d+\.\d% +0\.\d{3} +\d+ +replica-1$/m); // replica 2 has no samples yet
  });

  it('status --json gives the same view for scripts; several --admin say which replicas agree', async () => {
    const r = await ctl(['--admin', admin1, '--admin', admin2, '--json', 'status']);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.out[0]!) as StatusView;
    expect(v.replica).toBe('replica-1');
    expect(v.replicas.map((x) => x.replica)).toEqual(['replica-1', 'replica-2']);
    const arms = v.routes[0]!.arms;
    expect(arms.map((a) => a.arm)).toEqual(['model-a', 'model-b']);
    expect(arms.reduce((t, a) => t + a.share, 0)).toBeCloseTo(1, 6);
    expect(arms.reduce((t, a) => t + a.samples, 0)).toBe(40);
    for (const a of arms) expect(a.agree.sort()).toEqual(['replica-1', 'replica-2']);
    const table = await ctl(['--admin', admin1, '--admin', admin2, 'status']);
    expect(table.text).toMatch(/^ {2}model-b +active .* 2\/2$/m);
  });

  it('status --watch redraws until --count frames', async () => {
    const r = await ctl(['--admin', admin1, 'status', '--watch', '--interval', '50ms', '--count', '3']);
    expect(r.code).toBe(0);
    expect(r.out.filter((l) => l.startsWith('replica replica-1 via'))).toHaveLength(3);
  });

  it('pause and resume a route, quarantine and release an arm, with the token', async () => {
    const pause = await ctl(['--admin', admin1, '--token', TOKEN, 'pause', 'chat']);
    expect(pause).toMatchObject({ code: 0 });
    expect(pause.out[0]).toMatch(/^pause: route chat is now paused \(was active\)/);
    expect(sidecars[0]!.engine.route('chat')!.mode).toBe('paused');
    const resume = await ctl(['--admin', admin1, '--token-file', join(dir, 'token'), '--json', 'resume', 'chat']);
    expect(JSON.parse(resume.out[0]!)).toMatchObject({ route: 'chat', action: 'resume', mode: 'active', previous_mode: 'paused' });
    const q = await ctl(['--admin', admin1, 'quarantine', 'chat', 'model-b'], { ENVOY_BANDIT_TOKEN: TOKEN });
    expect(q.code).toBe(0);
    expect(q.out[0]).toMatch(/model-b is now quarantined/);
    const status = await ctl(['--admin', admin1, 'status']);
    expect(status.text).toMatch(/^ {2}model-b +quarantined by replica-1 +0\.0%/m);
    const rel = await ctl(['--admin', admin1, '--token', TOKEN, 'release', 'chat', 'model-b']);
    expect(rel.out[0]).toMatch(/model-b is now active/);
  });

  it('a wrong or missing token, an unknown route and an unreachable replica fail with a clear message and exit 2', async () => {
    const wrong = await ctl(['--admin', admin1, '--token', 'not-the-token-at-all', 'pause', 'chat']);
    expect(wrong.code).toBe(2);
    expect(wrong.err[0]).toMatch(/the token was refused: .*EB_ADMIN_UNAUTHORIZED/);
    expect(sidecars[0]!.engine.route('chat')!.mode).toBe('active');
    const none = await ctl(['--admin', admin1, 'freeze', 'chat']);
    expect(none.code).toBe(2);
    expect(none.err[0]).toMatch(/no token given: use --token, --token-file or ENVOY_BANDIT_TOKEN/);
    const unknown = await ctl(['--admin', admin1, '--token', TOKEN, 'reset', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.err[0]).toMatch(/no such route: nope \(EB_ADMIN_NOT_FOUND\)/);
    const dead = `127.0.0.1:${await freePort()}`;
    const down = await ctl(['--admin', dead, 'status']);
    expect(down.code).toBe(2);
    expect(down.err[0]).toMatch(new RegExp(`cannot reach the admin API at http://${dead.replace(/\./g, '\\.')}: ECONNREFUSED`));
  });

  it('usage mistakes exit 1 and name the problem', async () => {
    expect((await ctl(['pause'])).err[0]).toBe('ctl: pause needs exactly one ROUTE');
    expect((await ctl(['quarantine', 'chat'])).err[0]).toBe('ctl: quarantine needs ROUTE ARM');
    expect((await ctl(['explode'])).err[0]).toBe('ctl: unknown command "explode"');
    expect((await ctl(['status', '--count', '2'])).err[0]).toBe('ctl: --count needs --watch');
    expect((await ctl(['status', '--watch', '--interval', 'soon'])).err[0]).toBe('ctl: --interval must be a duration like 500ms or 2s, got "soon"');
    const r = await ctl(['--admin', admin1, '--admin', admin2, 'pause', 'chat']);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/give one --admin/);
    expect((await ctl(['--token-file', join(dir, 'missing'), '--admin', admin1, 'pause', 'chat'])).err[0]).toBe(`ctl: --token-file ${join(dir, 'missing')}: ENOENT`);
  });
});
