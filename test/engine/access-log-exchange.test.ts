import { describe, expect, it } from 'vitest';
import { exchangeFromAccessLog } from '../../src/engine/access-log-exchange.js';
import type { AccessLogEntry } from '../../src/extproc/handler.js';

const entry = (over: Partial<AccessLogEntry>): AccessLogEntry => ({
  status: 200,
  requestHeaders: new Map(),
  responseHeaders: new Map(),
  responseTrailers: new Map(),
  ttfbMs: 10,
  lastUpstreamRxMs: 30,
  lastDownstreamTxMs: 31,
  durationMs: 32,
  bodyBytes: 100,
  flags: [],
  details: '',
  intermediate: false,
  ...over,
});

describe('exchangeFromAccessLog', () => {
  it('takes grpc-status from the trailers, or from the headers of a trailers-only response, and decodes grpc-message', () => {
    const t = exchangeFromAccessLog(entry({ responseTrailers: new Map([['grpc-status', '13'], ['grpc-message', 'bad%20thing']]) }), null, 0);
    expect(t).toMatchObject({ status: 200, grpcStatus: 13, grpcMessage: 'bad thing', end: 'complete', ttfbMs: 10, totalMs: 32, bytes: 100 });
    const only = exchangeFromAccessLog(entry({ responseHeaders: new Map([['grpc-status', '14']]) }), null, 0);
    expect(only.grpcStatus).toBe(14);
    expect(exchangeFromAccessLog(entry({}), null, 0).grpcStatus).toBeUndefined();
  });

  it('ends: timeout (UT), connect failure (UF), reset (UR/UC), client gone before the response, complete', () => {
    expect(exchangeFromAccessLog(entry({ status: 504, flags: ['UT'] }), null, 0).end).toBe('timeout');
    expect(exchangeFromAccessLog(entry({ status: 503, flags: ['UF', 'URX'] }), null, 0).end).toBe('connect_failure');
    expect(exchangeFromAccessLog(entry({ flags: ['UC'] }), null, 0).end).toBe('reset');
    expect(exchangeFromAccessLog(entry({ status: 0, ttfbMs: undefined, lastUpstreamRxMs: undefined, flags: ['DC'] }), null, 0).end).toBe('no_response');
    expect(exchangeFromAccessLog(entry({ flags: ['DC'] }), null, 0).end).toBe('complete');
  });

  it('reads the route’s reward header and falls back to the elapsed time when Envoy logged no duration', () => {
    const e = exchangeFromAccessLog(entry({ responseHeaders: new Map([['x-reward', '0.7']]), durationMs: undefined, lastDownstreamTxMs: undefined }), 'x-reward', 77);
    expect(e.rewardHeader).toBe('0.7');
    expect(e.totalMs).toBe(77);
  });
});
