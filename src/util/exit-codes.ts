/**
 * Process exit codes of every command (contract section 1): 0 ok, 1 bad
 * config or usage, 2 runtime failure; 3 a command's own limit was exceeded
 * (loadtest --max-*);
 * 130 interrupted by SIGINT (the shell's 128 + signal 2). Commands return these, never literal numbers.
 */
export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_RUNTIME = 2;
export const EXIT_LIMIT_EXCEEDED = 3;
export const EXIT_INTERRUPTED = 130;
