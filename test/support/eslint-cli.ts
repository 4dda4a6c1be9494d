/**
 * ESLint run as a child process, for tests about the lint set-up. Linting is
 * seconds of synchronous work; in a child it does not stall the test worker.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './source-files.js';

const ESLINT_BIN = join(REPO_ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js');

export interface LintMessage {
  ruleId: string | null;
  message: string;
  line: number;
}
export interface LintResult {
  filePath: string;
  messages: LintMessage[];
}

function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ESLINT_BIN, ...args], { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 2) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Lints `files` (paths relative to `cwd`); exit code and ESLint's JSON results. */
export async function lint(files: string[], opts: { cwd?: string; args?: string[] } = {}): Promise<{ code: number; results: LintResult[] }> {
  const r = await run(['--format', 'json', ...(opts.args ?? []), ...files], opts.cwd ?? REPO_ROOT);
  if (r.code === 2) throw new Error(`eslint failed to run: ${r.stderr}`);
  return { code: r.code, results: JSON.parse(r.stdout) as LintResult[] };
}
