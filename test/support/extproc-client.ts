/**
 * A fake Envoy for tests: a grpc-js client opening ext_proc streams, encoding
 * with protobufjs (the reference codec) so the server is cross-checked on the wire.
 */
import * as grpc from '@grpc/grpc-js';
import { EXT_PROC_METHOD_PATH } from '../../src/extproc/proto-files.js';
import { referenceCodec } from './protos.js';

export interface StreamResult {
  code: grpc.status;
  details: string;
}

export interface FakeEnvoyStream {
  /** Send a ProcessingRequest object (keepCase) or raw bytes. */
  send(msg: object | Buffer): void;
  /** Next ProcessingResponse, decoded by protobufjs; rejects if the stream ends first or after `timeoutMs`. */
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Responses received and not yet taken by next(). */
  readonly pending: number;
  end(): void;
  cancel(): void;
  /** Final status (OK included). */
  status: Promise<StreamResult>;
}

export function createFakeEnvoy(address: string): { open(): FakeEnvoyStream; close(): void } {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const ref = referenceCodec();
  const serialize = (m: object | Buffer): Buffer => (Buffer.isBuffer(m) ? m : ref.encodeRequest(m));
  return {
    close: () => client.close(),
    open() {
      const call = client.makeBidiStreamRequest(EXT_PROC_METHOD_PATH, serialize, (b: Buffer) => b);
      const queue: Buffer[] = [];
      const waiters: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
      let ended: Error | undefined;
      call.on('data', (b: Buffer) => {
        const w = waiters.shift();
        if (w) w.resolve(b);
        else queue.push(b);
      });
      const status = new Promise<StreamResult>((resolve) => {
        call.on('status', (s: grpc.StatusObject) => {
          ended = new Error(`stream ended: ${s.code} ${s.details}`);
          for (const w of waiters.splice(0)) w.reject(ended);
          resolve({ code: s.code, details: s.details });
        });
      });
      call.on('error', () => {}); // surfaced through `status`
      return {
        send: (m) => call.write(m),
        get pending() {
          return queue.length;
        },
        next(timeoutMs = 5_000) {
          const b = queue.shift();
          if (b) return Promise.resolve(ref.decodeResponse(b));
          if (ended) return Promise.reject(ended);
          return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no response within timeout')), timeoutMs);
            waiters.push({
              resolve: (buf) => {
                clearTimeout(timer);
                resolve(ref.decodeResponse(buf));
              },
              reject: (e) => {
                clearTimeout(timer);
                reject(e);
              },
            });
          });
        },
        end: () => call.end(),
        cancel: () => call.cancel(),
        status,
      };
    },
  };
}

/** A request_headers ProcessingRequest as Envoy sends it (lower-case keys, raw_value only). */
export function requestHeadersMsg(headers: Record<string, string>, extra: object = {}): object {
  return {
    request_headers: {
      headers: { headers: Object.entries(headers).map(([key, v]) => ({ key, raw_value: Buffer.from(v, 'latin1') })) },
      end_of_stream: true,
    },
    ...extra,
  };
}

export function responseHeadersMsg(headers: Record<string, string>, extra: object = {}): object {
  return {
    response_headers: {
      headers: { headers: Object.entries(headers).map(([key, v]) => ({ key, raw_value: Buffer.from(v, 'latin1') })) },
    },
    ...extra,
  };
}

/** [key, value] pairs of a decoded HeadersResponse's set_headers. */
export function setHeadersOf(resp: Record<string, unknown>, oneof: string): [string, string][] {
  const hr = resp[oneof] as { response?: { header_mutation?: { set_headers?: { header: { key: string; raw_value?: Buffer } }[] } } };
  return (hr?.response?.header_mutation?.set_headers ?? []).map((h) => [h.header.key, (h.header.raw_value ?? Buffer.alloc(0)).toString('latin1')]);
}

/** grpc.health.v1 Check over a raw call (hand-encoded: request {1: service}, response {1: status enum}). */
export function healthCheck(address: string, service: string): Promise<number> {
  // Its own connection, as a prober's would be: grpc-js otherwise shares the
  // subchannel (and so the HTTP/2 connection) with the test's fake Envoy, and a
  // new stream on a connection the server has sent GOAWAY on makes Node 22's
  // HTTP/2 server reset that connection's open streams (seen on 22.12; Node 20
  // refuses only the new stream).
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const req = Buffer.concat([Buffer.from([0x0a, Buffer.byteLength(service)]), Buffer.from(service)]);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      service.length > 0 ? req : Buffer.alloc(0),
      (err, res) => {
        client.close();
        if (err) return reject(err);
        // SERVING=1, NOT_SERVING=2; an absent field is UNKNOWN=0.
        resolve(res && res.length >= 2 && res[0] === 0x08 ? res[1]! : 0);
      },
    );
  });
}
