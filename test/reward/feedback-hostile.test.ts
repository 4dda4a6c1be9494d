/**
 * POST /v1/feedback's hostile-input table over real sockets to a real Sidecar:
 * a body that is not feedback is a coded 4xx; an item that is not valid
 * feedback is answered 200 with outcome `invalid` and its code; nothing is a
 * 500 or a hang, and nothing is learned from any of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actual, expected, http, runRows, startAdminSidecar, type AdminSidecar, type Row } from '../support/hostile.js';
import { rawRequest } from '../support/raw-http.js';

const post = (body: string, extra: { token?: boolean; headers?: Record<string, string> } = { token: true }) => [http('POST', '/v1/feedback', { ...extra, body })];

describe('POST /v1/feedback: hostile inputs', () => {
  let s: AdminSidecar;
  let id = '';
  beforeAll(async () => {
    s = await startAdminSidecar();
    // One genuine decision held for feedback, for the rows that need a valid id.
    const route = s.sidecar.engine.route('chat')!;
    const d = s.sidecar.engine.decide(route, null);
    s.sidecar.engine.onResponse(d, 200, undefined, 5);
    id = d.id;
  });
  afterAll(async () => {
    await s?.stop();
  });

  const samples = () => s.sidecar.engine.armSummary(s.sidecar.engine.route('chat')!).reduce((n, a) => n + a.stats.n, 0);

  it('answers every row with its status and stable code, learns nothing from them, then still takes genuine feedback', async () => {
    const rows: Row[] = [
      { name: 'no token', pieces: post(JSON.stringify({ decision_id: id, reward: 1 }), {}), status: 401, code: 'EB_ADMIN_UNAUTHORIZED' },
      { name: 'empty body', pieces: post(''), status: 400, code: 'EB_FEEDBACK_INVALID' },
      { name: 'not JSON', pieces: post('decision_id=1&reward=1'), status: 400, code: 'EB_ADMIN_BAD_REQUEST' },
      { name: 'JSON null', pieces: post('null'), status: 400, code: 'EB_FEEDBACK_INVALID' },
      { name: 'JSON string', pieces: post('"thumbs up"'), status: 400, code: 'EB_FEEDBACK_INVALID' },
      { name: 'JSON number', pieces: post('1'), status: 400, code: 'EB_FEEDBACK_INVALID' },
      { name: 'empty array', pieces: post('[]'), status: 400, code: 'EB_FEEDBACK_INVALID' },
      { name: '1,001 items', pieces: post(JSON.stringify(Array.from({ length: 1001 }, () => ({ decision_id: id, reward: 1 })))), status: 413, code: 'EB_FEEDBACK_INVALID' },
      { name: 'body over 1 MiB', pieces: post(JSON.stringify({ decision_id: id, reward: 1, pad: 'p'.repeat(2 << 20) })), status: 413, code: 'EB_ADMIN_TOO_LARGE' },
      { name: 'empty object', pieces: post('{}'), status: 200, code: 'missing_decision_id' },
      { name: 'decision_id a number', pieces: post('{"decision_id": 5, "reward": 1}'), status: 200, code: 'missing_decision_id' },
      { name: 'decision_id an object', pieces: post('{"decision_id": {"$ne": null}, "reward": 1}'), status: 200, code: 'missing_decision_id' },
      { name: 'decision_id garbage', pieces: post('{"decision_id": "abc", "reward": 1}'), status: 200, code: 'malformed' },
      { name: 'decision_id 100 kB', pieces: post(JSON.stringify({ decision_id: `${'a'.repeat(100_000)}.b`, reward: 1 })), status: 200, code: 'malformed' },
      { name: 'decision_id forged signature', pieces: post(JSON.stringify({ decision_id: `${id.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA`, reward: 1 })), status: 200, code: 'bad_signature' },
      { name: 'decision_id re-encoded (padding added)', pieces: post(JSON.stringify({ decision_id: `${id.split('.')[0]}==.${id.split('.')[1]}`, reward: 1 })), status: 200, code: 'non_canonical' },
      { name: 'reward 1e300', pieces: post(JSON.stringify({ decision_id: id, reward: 1e300 })), status: 200, code: 'bad_reward' },
      { name: 'reward -5', pieces: post(JSON.stringify({ decision_id: id, reward: -5 })), status: 200, code: 'bad_reward' },
      { name: 'reward a string', pieces: post(JSON.stringify({ decision_id: id, reward: '1' })), status: 200, code: 'bad_reward' },
      { name: 'reward missing', pieces: post(JSON.stringify({ decision_id: id })), status: 200, code: 'bad_reward' },
      { name: 'array of garbage items (first answer)', pieces: post('[1, null, "x", []]'), status: 200, code: null },
      {
        name: 'slow body',
        pieces: [`POST /v1/feedback HTTP/1.1\r\nhost: a\r\nauthorization: Bearer hostile-admin-token-5e1c9a7f3b2d\r\ncontent-length: 40\r\n\r\n`, ...Array.from({ length: 12 }, () => ' ')],
        gapMs: 150,
        status: 408,
        code: 'EB_ADMIN_TIMEOUT',
      },
    ];
    const results = await runRows(s.port, rows);
    expect(actual(results)).toEqual(expected(rows));
    expect(samples()).toBe(0);

    const garbage = await rawRequest({ port: s.port, pieces: post('[1, null, "x", []]') });
    expect((JSON.parse(garbage.body) as { results: Array<{ code: string }> }).results.map((r) => r.code)).toEqual(['not_an_object', 'not_an_object', 'not_an_object', 'not_an_object']);

    const good = await rawRequest({ port: s.port, pieces: post(JSON.stringify({ decision_id: id, reward: 0.75 })) });
    expect(good.status).toBe(200);
    expect(JSON.parse(good.body)).toMatchObject({ outcome: 'accepted' });
    expect(samples()).toBe(1);
  });
});
