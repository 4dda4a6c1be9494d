/**
 * Session keys are never stored: a key is reduced to a 53-bit hash (a JS
 * number, no allocation), so a session costs the same few bytes however long
 * its key. The hash is unkeyed and the same on every replica, because the
 * fleet's deterministic first assignment (rendezvous) is computed from it.
 */
import { MAX_SESSION_KEY_LENGTH } from '../config/defaults.js';

const TWO_21 = 2 ** 21;

/** Murmur3's 32-bit finalizer: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The 53-bit hash of a session key, never 0; 0 means "no usable key" (empty,
 * or longer than MAX_SESSION_KEY_LENGTH: such a request is decided without
 * stickiness rather than letting a client grow memory or CPU per request).
 */
export function hashSessionKey(key: string): number {
  const n = key.length;
  if (n === 0 || n > MAX_SESSION_KEY_LENGTH) return 0;
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  const hash = fmix32(h1 ^ n) * TWO_21 + (fmix32(h2) >>> 11);
  return hash === 0 ? 1 : hash;
}

/** A 32-bit salt per arm name, the same on every replica and after any reload or reordering. */
export function armSalt(name: string): number {
  let h = 0x2545f491;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return fmix32(h);
}
