import { createServer } from 'node:net';
import { BanditError, ErrorCodes } from './errors.js';

/**
 * Ports handed out below the kernel's ephemeral range (32768–60999 here), so
 * that no listen(0) or outgoing connection of a parallel test file can take
 * one between our check and its use; a random start keeps two vitest workers
 * from walking the same sequence.
 */
const RANGE = { low: 20_000, high: 30_000 } as const;
let next = RANGE.low + Math.floor(Math.random() * (RANGE.high - RANGE.low));

function tryListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A port that is free on `host` now and outside the ephemeral range. Prefer binding port 0 directly where possible. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < 1000; tries++) {
    const port = next;
    next = next + 1 + Math.floor(Math.random() * 7);
    if (next >= RANGE.high) next = RANGE.low + (next % 97);
    if (await tryListen(port, host)) return port;
  }
  throw new BanditError(ErrorCodes.SETUP, `no free port in ${RANGE.low}-${RANGE.high} on ${host}`);
}
