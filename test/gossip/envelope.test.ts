/**
 * The signed envelope shared by gossip messages and forwarded feedback
 * (src/gossip/envelope.ts): fixed test vectors hold both wire forms byte for
 * byte (a replica of another version must still verify them), and the checks
 * run in one order for both: kind, MAC, addressee, age, payload.
 */
import { describe, expect, it } from 'vitest';
import { encodeFeedbackMessage, verifyFeedbackMessage } from '../../src/gossip/feedback-message.js';
import { encodeMessage, verifyMessage } from '../../src/gossip/message.js';

const SECRET = Buffer.from('golden-secret-0123456789abcdef');
const T = 1_700_000_000_123.7;

describe('signed envelopes', () => {
  // Vectors taken from the encoders before they shared the envelope; they must never change.
  it('a gossip push is byte-compatible: JSON snapshot, whole-ms time, MAC over domain, kind, sender, time, snapshot', () => {
    const m = encodeMessage('push', 'replica-1', { slots: {} } as never, T, SECRET);
    expect(m).toEqual({
      kind: 'push',
      sender: 'replica-1',
      time_ms: 1_700_000_000_123,
      snapshot: Buffer.from('{"slots":{}}'),
      mac: Buffer.from('e774584feadb20f415716e9218ddc5c50f5834f29cade5fe14aeb8372c3d4914', 'hex'),
    });
    expect(encodeMessage('push', 'replica-1', { slots: {} } as never, T, null).mac).toEqual(Buffer.alloc(0));
  });

  it('a feedback forward and answer are byte-compatible: the addressee is signed between sender and time', () => {
    const f = encodeFeedbackMessage('forward', 'replica-1', 'replica-2', [{ decision_id: 'd1', reward: 0.5 }], T, SECRET);
    expect(f).toEqual({
      kind: 'forward',
      sender: 'replica-1',
      target: 'replica-2',
      time_ms: 1_700_000_000_123,
      body: Buffer.from('[{"decision_id":"d1","reward":0.5}]'),
      mac: Buffer.from('25e4c2de0a0250f1912cbe8885f78e6f58018955cfa859ac38de294c21b1e941', 'hex'),
    });
    const a = encodeFeedbackMessage('answer', 'replica-2', 'replica-1', { settled_by: 'replica-2' }, 1_700_000_000_124, SECRET);
    expect(a.mac.toString('hex')).toBe('b19dd562d87987fe9e096dc88b5a7adf8eb31b748080ec2827a090e1f5633956');
  });

  it('both refuse, in the same order, a wrong kind, a bad MAC and a stale time; feedback also a wrong addressee', () => {
    const push = encodeMessage('push', 'r1', { slots: {} } as never, T, SECRET);
    const reason = (r: { ok: boolean; error?: { reason: string; code: string } }) => (r.ok ? 'ok' : `${r.error!.code} ${r.error!.reason}`);
    expect(reason(verifyMessage(push, 'push', SECRET, T))).toBe('ok');
    expect(reason(verifyMessage(push, 'pull', SECRET, T))).toBe('EB_GOSSIP_AUTH auth');
    expect(reason(verifyMessage({ ...push, sender: 'r2' }, 'push', SECRET, T))).toBe('EB_GOSSIP_AUTH auth');
    expect(reason(verifyMessage(push, 'push', SECRET, T + 31_000))).toBe('EB_GOSSIP_AUTH stale');
    // A bad MAC is reported before the age: an old forgery is a forgery.
    expect(reason(verifyMessage({ ...push, sender: 'r2' }, 'push', SECRET, T + 31_000))).toBe('EB_GOSSIP_AUTH auth');

    const fwd = encodeFeedbackMessage('forward', 'r1', 'r2', [], T, SECRET);
    expect(reason(verifyFeedbackMessage(fwd, 'forward', 'r2', SECRET, T))).toBe('ok');
    expect(reason(verifyFeedbackMessage(fwd, 'answer', 'r2', SECRET, T))).toBe('EB_GOSSIP_AUTH auth');
    expect(reason(verifyFeedbackMessage({ ...fwd, sender: 'r3' }, 'forward', 'r2', SECRET, T))).toBe('EB_GOSSIP_AUTH auth');
    expect(reason(verifyFeedbackMessage(fwd, 'forward', 'r3', SECRET, T))).toBe('EB_STATE_CORRUPT invalid');
    expect(reason(verifyFeedbackMessage(fwd, 'forward', 'r2', SECRET, T - 31_000))).toBe('EB_GOSSIP_AUTH stale');
    // The addressee is checked before the age.
    expect(reason(verifyFeedbackMessage(fwd, 'forward', 'r3', SECRET, T - 31_000))).toBe('EB_STATE_CORRUPT invalid');
  });

  it('a payload that is not JSON is invalid (EB_STATE_CORRUPT) for both', () => {
    const push = encodeMessage('push', 'r1', { slots: {} } as never, T, null);
    expect(verifyMessage({ ...push, snapshot: Buffer.from('{') }, 'push', null, T)).toMatchObject({ ok: false, error: { code: 'EB_STATE_CORRUPT', message: expect.stringMatching(/^snapshot is not JSON/) } });
    const fwd = encodeFeedbackMessage('forward', 'r1', 'r2', [], T, null);
    expect(verifyFeedbackMessage({ ...fwd, body: Buffer.from('{') }, 'forward', 'r2', null, T)).toMatchObject({ ok: false, error: { code: 'EB_STATE_CORRUPT', message: expect.stringMatching(/^feedback body is not JSON/) } });
  });
});
