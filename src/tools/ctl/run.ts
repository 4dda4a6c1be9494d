/**
 * `envoy-bandit ctl`: the operator's CLI over any replica's admin API.
 *   status [--watch [--interval D] [--count N]]   fleet view per route and arm
 *   pause|resume|freeze|reset ROUTE
 *   quarantine|release ROUTE ARM
 * Exit codes: 0 ok, 1 usage, 2 the replica is unreachable, refused the token
 * or the call (the message says which).
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_ADMIN_LISTEN } from '../../config/defaults.js';
import { parseDuration } from '../../util/duration.js';
import { AdminClient, adminBaseUrl, CtlError, CTL_DEFAULT_TIMEOUT_MS } from './client.js';
import { AggregateStatusError, gatherStatus, renderStatus } from './status.js';
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE } from '../../util/exit-codes.js';

export const CTL_EXIT = { ok: EXIT_OK, usage: EXIT_USAGE, failed: EXIT_RUNTIME } as const;
export const CTL_ENV = { admin: 'ENVOY_BANDIT_ADMIN', token: 'ENVOY_BANDIT_TOKEN' } as const;
export const CTL_DEFAULT_WATCH_INTERVAL_MS = 2_000;
/** ANSI: cursor home, clear screen (a TTY only). */
const CLEAR = '\u001b[H\u001b[2J';

export const ROUTE_ACTIONS = ['pause', 'resume', 'freeze', 'reset'] as const;
export const ARM_ACTIONS = ['quarantine', 'release'] as const;

export interface CtlOutput {
  stdout(line: string): void;
  stderr(line: string): void;
  /** Output is a terminal: `--watch` redraws in place. */
  tty: boolean;
}

export interface CtlOptions {
  admins: string[];
  token: string | null;
  tokenFile: string | null;
  json: boolean;
  watch: boolean;
  intervalMs: number;
  /** Frames to draw with --watch (null: until interrupted). */
  count: number | null;
  timeoutMs: number;
}

export interface CtlCommand {
  verb: string;
  args: string[];
}

export const CTL_USAGE = [
  'usage: envoy-bandit ctl [--admin URL]... [--token T | --token-file F] [--json] <command>',
  '',
  'commands:',
  '  status [--watch [--interval 2s] [--count N]]   fleet view: per route and arm share, mean, samples, state,',
  '                                                 replicas in the view and their staleness',
  '  pause|resume|freeze|reset ROUTE                change a route',
  '  quarantine|release ROUTE ARM                   take an arm out of traffic, or let it back',
  '',
  `--admin      a replica's admin API, host:port or URL (default $${CTL_ENV.admin} or ${DEFAULT_ADMIN_LISTEN});`,
  '             repeat it for status to see which replicas agree on each arm',
  `--token      bearer token for changes (or --token-file FILE, or $${CTL_ENV.token})`,
  '--json       machine-readable output',
  `--timeout    per call (default ${CTL_DEFAULT_TIMEOUT_MS / 1000}s)`,
  'exit codes: 0 ok, 1 usage, 2 unreachable / token refused / call refused',
];

export function usageProblem(verb: string, args: string[], o: CtlOptions): string | null {
  const isRoute = (ROUTE_ACTIONS as readonly string[]).includes(verb);
  const isArm = (ARM_ACTIONS as readonly string[]).includes(verb);
  if (verb === 'status') {
    if (args.length) return `status takes no arguments, got ${JSON.stringify(args[0])}`;
  } else if (isRoute) {
    if (args.length !== 1) return `${verb} needs exactly one ROUTE`;
  } else if (isArm) {
    if (args.length !== 2) return `${verb} needs ROUTE ARM`;
  } else {
    return `unknown command ${JSON.stringify(verb)}`;
  }
  if (verb !== 'status' && (o.watch || o.count !== null)) return '--watch and --count apply to status only';
  if (verb !== 'status' && o.admins.length > 1) return `${verb} acts on one replica (gossip carries it to the others): give one --admin`;
  if (o.count !== null && !o.watch) return '--count needs --watch';
  return null;
}

async function resolveToken(o: CtlOptions, env: NodeJS.ProcessEnv): Promise<string | null> {
  if (o.token !== null && o.tokenFile !== null) throw new CtlError('bad_reply', 'give --token or --token-file, not both');
  if (o.token !== null) return o.token;
  if (o.tokenFile !== null) {
    try {
      const t = (await readFile(o.tokenFile, 'utf8')).trim();
      if (t === '') throw new CtlError('bad_reply', `--token-file ${o.tokenFile} is empty`);
      return t;
    } catch (e) {
      if (e instanceof CtlError) throw e;
      throw new CtlError('bad_reply', `--token-file ${o.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return env[CTL_ENV.token] || null;
}

/** Runs one ctl command; returns the exit code. `stop` ends a --watch early (Ctrl-C). */
export async function runCtl(cmd: CtlCommand, o: CtlOptions, out: CtlOutput, env: NodeJS.ProcessEnv, stop?: AbortSignal): Promise<number> {
  const problem = usageProblem(cmd.verb, cmd.args, o);
  if (problem) {
    out.stderr(`ctl: ${problem}`);
    return CTL_EXIT.usage;
  }
  let clients: AdminClient[];
  let token: string | null;
  try {
    token = await resolveToken(o, env);
    const admins = o.admins.length ? o.admins : [env[CTL_ENV.admin] || DEFAULT_ADMIN_LISTEN];
    clients = admins.map((a) => new AdminClient(adminBaseUrl(a), token, o.timeoutMs));
  } catch (e) {
    out.stderr(`ctl: ${(e as Error).message}`);
    return CTL_EXIT.usage;
  }
  try {
    if (cmd.verb === 'status') return await status(clients, o, out, stop);
    const [route, arm] = cmd.args.map(encodeURIComponent);
    const path = arm === undefined ? `/v1/routes/${route}/${cmd.verb}` : `/v1/routes/${route}/arms/${arm}/${cmd.verb}`;
    const reply = await clients[0]!.post<Record<string, unknown>>(path);
    if (o.json) out.stdout(JSON.stringify(reply));
    else if (arm === undefined) out.stdout(`${cmd.verb}: route ${cmd.args[0]} is now ${String(reply.mode)} (was ${String(reply.previous_mode)}) on ${clients[0]!.base}`);
    else out.stdout(`${cmd.verb}: ${cmd.args[0]}/${cmd.args[1]} is now ${String(reply.state)} on ${clients[0]!.base}`);
    return CTL_EXIT.ok;
  } catch (e) {
    out.stderr(`ctl: ${(e as Error).message}`);
    return CTL_EXIT.failed;
  }
}

async function status(clients: AdminClient[], o: CtlOptions, out: CtlOutput, stop?: AbortSignal): Promise<number> {
  let frames = 0;
  for (;;) {
    let code: number = CTL_EXIT.ok;
    try {
      const { view } = await gatherStatus(clients);
      if (o.json) out.stdout(JSON.stringify(view));
      else {
        const lines = renderStatus(view);
        if (o.watch && out.tty) out.stdout(CLEAR + lines.join('\n'));
        else {
          if (o.watch && frames > 0) out.stdout('');
          for (const l of lines) out.stdout(l);
        }
      }
    } catch (e) {
      const msgs = e instanceof AggregateStatusError ? e.errors : [(e as Error).message];
      for (const m of msgs) out.stderr(`ctl: ${m}`);
      code = CTL_EXIT.failed;
      // A watch keeps trying (a replica restarting is worth watching); a single status fails now.
      if (!o.watch) return code;
    }
    frames++;
    if (!o.watch || (o.count !== null && frames >= o.count) || stop?.aborted) return code;
    await sleepUnless(o.intervalMs, stop);
    if (stop?.aborted) return code;
  }
}

function sleepUnless(ms: number, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      stop?.removeEventListener('abort', done);
      resolve();
    }
    stop?.addEventListener('abort', done, { once: true });
  });
}

/** `--interval` text → ms, or a message. */
export function parseInterval(text: string | undefined, flag: string, fallback: number): number | string {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) return `${flag} must be a duration like 500ms or 2s, got ${JSON.stringify(text)}`;
  return ms;
}
