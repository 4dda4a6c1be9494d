/** util/mac.ts: the length-prefixed HMAC-SHA256 the gossip envelope and reward batches sign with. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { macMatches, macOver } from '../../src/util/mac.js';

const SECRET = Buffer.from('mac-secret-0123456789abcdef');
const prefixed = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};

describe('macOver', () => {
  it('is HMAC-SHA256 over each part as its 4-byte big-endian length and its bytes', () => {
    const want = createHmac('sha256', SECRET).update(Buffer.concat(['dom', 'é', ''].map(prefixed))).digest();
    expect(macOver(SECRET, ['dom', Buffer.from('é', 'utf8'), ''])).toEqual(want);
  });

  it('moving a boundary between parts changes the MAC', () => {
    expect(macOver(SECRET, ['ab', 'c'])).not.toEqual(macOver(SECRET, ['a', 'bc']));
    expect(macOver(SECRET, ['abc', ''])).not.toEqual(macOver(SECRET, ['abc']));
  });
});

describe('macMatches', () => {
  it('accepts only the same bytes; an absent, short or non-buffer MAC fails', () => {
    const mac = macOver(SECRET, ['x']);
    expect(macMatches(Buffer.from(mac), mac)).toBe(true);
    expect(macMatches(mac.subarray(0, 16), mac)).toBe(false);
    expect(macMatches(undefined, mac)).toBe(false);
    expect(macMatches(mac.toString('hex'), mac)).toBe(false);
    const flipped = Buffer.from(mac);
    flipped[0] = flipped[0]! ^ 1;
    expect(macMatches(flipped, mac)).toBe(false);
  });
});
