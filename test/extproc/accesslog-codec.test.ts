import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeStreamAccessLogsMessage } from '../../src/extproc/accesslog-codec.js';
import { ExtProcMalformedError } from '../../src/extproc/codec.js';
import { dur, encodeAccessLogs } from '../support/accesslog-proto.js';

const grpcFailure = {
  common_properties: {
    sample_rate: 1,
    start_time: { seconds: 1_700_000_000, nanos: 5 },
    time_to_first_upstream_rx_byte: dur(12.5),
    time_to_last_upstream_rx_byte: dur(340),
    time_to_last_downstream_tx_byte: dur(341),
    duration: dur(1_342.25),
    upstream_cluster: 'model_c',
    route_name: 'r',
    custom_tags: { a: 'b' },
    upstream_request_attempt_count: 1,
  },
  protocol_version: 3,
  request: { path: '/x', request_headers: { 'x-bandit-decision-id': 'abc.def' } },
  response: {
    response_code: { value: 200 },
    response_headers_bytes: 40,
    response_body_bytes: 1234,
    response_headers: { 'grpc-status': '' },
    response_trailers: { 'grpc-status': '13', 'grpc-message': 'model%20crashed' },
    response_code_details: 'via_upstream',
  },
};

describe('decodeStreamAccessLogsMessage', () => {
  it('reads status, logged headers and trailers, durations, bytes and details from an HTTP entry', () => {
    const [e] = decodeStreamAccessLogsMessage(encodeAccessLogs({ identifier: { log_name: 'envoy-bandit' }, http_logs: { log_entry: [grpcFailure] } }));
    expect(e).toEqual({
      status: 200,
      requestHeaders: new Map([['x-bandit-decision-id', 'abc.def']]),
      responseHeaders: new Map([['grpc-status', '']]),
      responseTrailers: new Map([['grpc-status', '13'], ['grpc-message', 'model%20crashed']]),
      ttfbMs: 12.5,
      lastUpstreamRxMs: 340,
      lastDownstreamTxMs: 341,
      durationMs: 1_342.25,
      bodyBytes: 1234,
      flags: [],
      details: 'via_upstream',
      intermediate: false,
    });
  });

  it('names response flags in Envoy’s short form and skips the message-typed one', () => {
    const entry = {
      common_properties: {
        response_flags: { upstream_connection_failure: true, upstream_retry_limit_exceeded: true, unauthorized_details: { reason: 1 }, downstream_remote_reset: true },
      },
      response: { response_code: { value: 503 } },
    };
    const [e] = decodeStreamAccessLogsMessage(encodeAccessLogs({ http_logs: { log_entry: [entry] } }));
    expect(e!.flags).toEqual(['UF', 'URX', 'DR']);
    expect(e!.status).toBe(503);
    expect(e!.ttfbMs).toBeUndefined();
  });

  it('decodes every entry of a batch, in order, and marks intermediate ones', () => {
    const entries = [
      { response: { response_code: { value: 200 } } },
      { common_properties: { intermediate_log_entry: true } },
      { response: { response_code: { value: 504 } }, common_properties: { response_flags: { upstream_request_timeout: true } } },
    ];
    const out = decodeStreamAccessLogsMessage(encodeAccessLogs({ http_logs: { log_entry: entries } }));
    expect(out.map((e) => [e.status, e.intermediate, e.flags])).toEqual([
      [200, false, []],
      [0, true, []],
      [504, false, ['UT']],
    ]);
  });

  it('an empty message has no entries', () => {
    expect(decodeStreamAccessLogsMessage(Buffer.alloc(0))).toEqual([]);
  });

  it('truncated or hostile bytes are a coded error, never a crash or a hang', () => {
    const good = encodeAccessLogs({ http_logs: { log_entry: [grpcFailure] } });
    for (let cut = 1; cut < good.length; cut += 7) {
      try {
        decodeStreamAccessLogsMessage(good.subarray(0, cut));
      } catch (e) {
        expect(e).toBeInstanceOf(ExtProcMalformedError);
      }
    }
    expect(() => decodeStreamAccessLogsMessage(Buffer.from([0x12, 0x05, 0x0a]))).toThrow(ExtProcMalformedError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeStreamAccessLogsMessage(Buffer.from(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(ExtProcMalformedError);
        }
      }),
      { numRuns: 500, seed: 12 },
    );
  });
});
