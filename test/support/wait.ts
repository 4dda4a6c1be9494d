/** Waiting in tests: a plain sleep, and polling a condition with a deadline (as a result or as a failure). */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Condition = () => boolean | Promise<boolean>;

/** Polls `cond` every `intervalMs` for at most `ms`; whether it became true (checked once more at the deadline). */
export async function poll(cond: Condition, ms: number, intervalMs = 20): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(intervalMs);
  }
  return cond();
}

/** Polls `cond` until it holds and returns the ms that took; throws `<what>: not within <ms> ms` at the deadline. */
export async function waitFor(cond: Condition, ms = 5_000, what = 'condition', intervalMs = 20): Promise<number> {
  const t0 = Date.now();
  if (await poll(cond, ms, intervalMs)) return Date.now() - t0;
  throw new Error(`${what}: not within ${ms} ms`);
}
