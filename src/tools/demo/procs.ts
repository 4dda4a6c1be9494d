/**
 * Every child process the demo starts, tracked by PID in its own process
 * group (detached), so that a normal end, an error and Ctrl-C all stop the
 * whole tree, and the end of the run can prove nothing is left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface TrackedProcess {
  role: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<void>;
  exitCode: number | null;
  signal: string | null;
  /** Set once the child has exited. */
  done: boolean;
}

export interface ProcessReport {
  role: string;
  pid: number;
  exit_code: number | null;
  signal: string | null;
  /** Neither the PID nor anything in its process group answers kill(0). */
  gone: boolean;
}

/** Grace between SIGTERM and SIGKILL; the sidecar promises to drain within 10 s, the demo does not wait that long. */
export const STOP_GRACE_MS = 4_000;

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

export class ProcessGroup {
  private readonly all: TrackedProcess[] = [];

  /** Starts `cmd` in a new process group; stdout and stderr go to `logFile` (or nowhere). */
  spawn(role: string, cmd: string, args: readonly string[], opts: { logFile?: string; env?: NodeJS.ProcessEnv; cwd?: string; captureStdout?: boolean } = {}): TrackedProcess {
    const fd = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
    let child: ChildProcess;
    try {
      child = spawn(cmd, [...args], {
        detached: true,
        stdio: ['ignore', opts.captureStdout ? 'pipe' : fd, fd],
        env: opts.env ?? process.env,
        cwd: opts.cwd,
      });
    } finally {
      if (typeof fd === 'number') closeSync(fd);
    }
    if (child.pid === undefined) throw new Error(`could not start ${role} (${cmd})`);
    const tracked: TrackedProcess = { role, pid: child.pid, child, exitCode: null, signal: null, done: false, exited: Promise.resolve() };
    tracked.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        tracked.exitCode = code;
        tracked.signal = signal;
        tracked.done = true;
        resolve();
      });
      child.once('error', () => {
        tracked.done = true;
        resolve();
      });
    });
    this.all.push(tracked);
    return tracked;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
  async stop(p: TrackedProcess, graceMs = STOP_GRACE_MS): Promise<void> {
    if (!p.done) signalGroup(p.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(p.pid, 'SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(timer);
    // Anything the child left in its group goes too.
    if (isAlive(-p.pid)) signalGroup(p.pid, 'SIGKILL');
  }

  /** Stops every running child, in reverse start order groups but concurrently within the call. */
  async stopAll(graceMs = STOP_GRACE_MS): Promise<void> {
    await Promise.all(this.all.filter((p) => !p.done).map((p) => this.stop(p, graceMs)));
  }

  /** Synchronous last resort for process 'exit': SIGKILL whatever is still up. */
  killAllNow(): void {
    for (const p of this.all) if (!p.done || isAlive(-p.pid)) signalGroup(p.pid, 'SIGKILL');
  }

  report(): ProcessReport[] {
    return this.all.map((p) => ({ role: p.role, pid: p.pid, exit_code: p.exitCode, signal: p.signal, gone: !isAlive(p.pid) && !isAlive(-p.pid) }));
  }

  get processes(): readonly TrackedProcess[] {
    return this.all;
  }
}
