import { describe, expect, it } from 'vitest';
import { readCookie, StickySessions } from '../../src/sticky/sessions.js';
import { ManualClock } from '../../src/util/clock.js';
import { headerList as headers } from '../support/engine.js';

describe('StickySessions', () => {
  it('keys a session by header first, then cookie', () => {
    const s = new StickySessions({ header: 'x-session-id', cookie: 'sid', ttl_ms: 1000, max_sessions: 10 }, new ManualClock());
    expect(s.keyOf(headers({ 'x-session-id': 'h1', cookie: 'sid=c1' }))).toBe('h1');
    expect(s.keyOf(headers({ cookie: 'a=1; sid=c1; b=2' }))).toBe('c1');
    expect(s.keyOf(headers({}))).toBeUndefined();
  });

  it('forgets a session after its TTL of inactivity', () => {
    const clock = new ManualClock(0);
    const s = new StickySessions({ header: 'x-session-id', cookie: null, ttl_ms: 1000, max_sessions: 10 }, clock);
    s.set('k', 'model-a');
    clock.advance(900);
    expect(s.get('k')).toBe('model-a'); // use refreshes the TTL
    clock.advance(900);
    expect(s.get('k')).toBe('model-a');
    clock.advance(1001);
    expect(s.get('k')).toBeUndefined();
  });

  it('holds at most max_sessions, evicting the least recently used', () => {
    const s = new StickySessions({ header: 'x-session-id', cookie: null, ttl_ms: 60_000, max_sessions: 2 }, new ManualClock());
    s.set('a', '1');
    s.set('b', '2');
    s.get('a');
    s.set('c', '3');
    expect(s.get('b')).toBeUndefined();
    expect(s.get('a')).toBe('1');
    expect(s.size).toBe(2);
  });

  it('readCookie ignores names that only share a prefix', () => {
    expect(readCookie('sidx=1; sid=2', 'sid')).toBe('2');
    expect(readCookie('sid=', 'sid')).toBeUndefined();
  });
});
