/** What a command may touch of the process: output lines and the environment. Injected so tests capture it. */
export interface CliIo {
  stdout(line: string): void;
  stderr(line: string): void;
  env: NodeJS.ProcessEnv;
  /** stdout is a terminal (commands that redraw in place, e.g. `ctl status --watch`). */
  tty?: boolean;
}

export function processIo(): CliIo {
  return {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    tty: process.stdout.isTTY === true,
  };
}

/** An io that records every line; for tests and for embedding commands. */
export function captureIo(env: NodeJS.ProcessEnv = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, env, stdout: (line) => void out.push(line), stderr: (line) => void err.push(line) };
}
