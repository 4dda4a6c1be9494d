/**
 * ext_proc server benchmark: streams per server CPU-second, ours (grpc-js
 * transport and http2 transport) vs a naive grpc-js + proto-loader server
 * (objects, keepCase), each in its own child process, driven by the same client (a third process) opening concurrent
 * bidi streams shaped like Envoy's headers-only exchange:
 * request_headers -> reply -> response_headers -> reply -> close.
 *
 *   node dist/bench/extproc.js [--streams 20000] [--concurrency 32] [--rounds 2] [--close reset|half-close]
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fork, type ChildProcess } from 'node:child_process';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HeaderList, RequestHeadersReply, ResponseHeadersReply, StreamContext } from '../src/extproc/handler.js';
import { EXT_PROC_METHOD_PATH, EXT_PROC_PROTO, EXT_PROC_SERVICE_NAME, PROTO_ROOT } from '../src/extproc/proto-files.js';
import { createExtProcServer, type ExtProcTransport } from '../src/extproc/server.js';

/**
 * How the client closes each stream after the second reply: 'half-close' is the
 * textbook gRPC ending (the server then sends OK trailers: a little more server
 * work than with Envoy). 'reset' is what Envoy 1.40 does (RST_STREAM
 * INTERNAL_ERROR, which node:http2 turns into an Error per stream), but against a Node
 * HTTP/2 server a Node client then sees a few percent of REFUSED_STREAM (not
 * seen with Envoy behind envoy.yaml); use it to compare, not for headline figures.
 */
export type CloseMode = 'reset' | 'half-close';

export const EXTPROC_BENCH_DEFAULTS = {
  streams: 20_000,
  close: 'half-close' as CloseMode,
  warmupStreams: 3_000,
  concurrency: 32,
  rounds: 2,
} as const;

export interface ExtProcBenchOptions {
  streams?: number;
  warmupStreams?: number;
  concurrency?: number;
  rounds?: number;
  close?: CloseMode;
  /** Print progress lines (default true). */
  log?: (line: string) => void;
}

export interface ServerFigures {
  streams: number;
  cpuMs: number;
  wallMs: number;
  errors: number;
  streamsPerCpuSecond: number;
}

export interface ExtProcBenchResult {
  naive: ServerFigures;
  /** createExtProcServer, transport 'grpc-js'. */
  ours: ServerFigures;
  /** createExtProcServer, transport 'http2'. */
  oursHttp2: ServerFigures;
  /** ours / naive, streams per CPU-second. */
  ratio: number;
  /** oursHttp2 / naive. */
  ratioHttp2: number;
  /** Raw node:http2 with constant replies (context: the transport's ceiling). */
  h2Floor: ServerFigures;
  options: Required<Omit<ExtProcBenchOptions, 'log'>>;
}

type ServerRole = 'naive' | 'ours' | 'ours-h2' | 'h2-floor';
type Role = ServerRole | 'client';

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

/** The same tiny decision both servers make (stands in for the engine). */
const CLUSTERS = ['model_a', 'model_b', 'model_c'];
function pickCluster(session: string | undefined): string {
  let h = 0;
  const s = session ?? '';
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return CLUSTERS[h % CLUSTERS.length]!;
}

// ---------------------------------------------------------------------------
// Server children.

async function startNaive(): Promise<number> {
  const def = protoLoader.loadSync(EXT_PROC_PROTO, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { ext_proc: { v3: { ExternalProcessor: { service: grpc.ServiceDefinition } } } } };
  };
  const server = new grpc.Server();
  type Hv = { key: string; raw_value?: Buffer; value?: string };
  type Req = { request: string; request_headers?: { headers?: { headers?: Hv[] } }; response_headers?: { headers?: { headers?: Hv[] } } };
  let seq = 0;
  server.addService(pkg.envoy.service.ext_proc.v3.ExternalProcessor.service, {
    Process: (call: grpc.ServerDuplexStream<Req, object>) => {
      const id = ++seq;
      let cluster: string | undefined;
      call.on('data', (req: Req) => {
        const toMap = (hs: Hv[] | undefined) => {
          const m: Record<string, string> = {};
          for (const h of hs ?? []) if (m[h.key] === undefined) m[h.key] = (h.raw_value ?? Buffer.alloc(0)).toString('latin1');
          return m;
        };
        if (req.request === 'request_headers') {
          const headers = toMap(req.request_headers?.headers?.headers);
          cluster = pickCluster(headers['x-session-id']);
          call.write({
            request_headers: {
              response: {
                header_mutation: {
                  set_headers: [
                    { header: { key: 'x-bandit-cluster', raw_value: Buffer.from(cluster) } },
                    { header: { key: 'x-bandit-decision-id', raw_value: Buffer.from(`d${id}`) } },
                  ],
                },
                clear_route_cache: true,
              },
            },
          });
        } else if (req.request === 'response_headers') {
          const headers = toMap(req.response_headers?.headers?.headers);
          void headers[':status'];
          call.write({
            response_headers: {
              response: { header_mutation: { set_headers: [{ header: { key: 'x-bandit-arm', raw_value: Buffer.from(cluster ?? '') } }] } },
            },
          });
        } else {
          call.write({ [req.request]: {} });
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  });
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))),
  );
}

/**
 * Context, not a contender: node:http2 answering every message with a constant
 * frame and no decoding at all, i.e. the ceiling for any server built on node:http2.
 */
async function startH2Floor(): Promise<number> {
  const reply = Buffer.from([0, 0, 0, 0, 2, 0x0a, 0]);
  const server = http2.createServer();
  server.on('stream', (stream) => {
    let n = 0;
    stream.on('data', () => {
      if (n++ === 0) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      }
      stream.write(reply);
    });
    stream.on('end', () => stream.end());
    stream.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function startOurs(transport: ExtProcTransport): Promise<number> {
  let seq = 0;
  const server = createExtProcServer({
    address: '127.0.0.1:0',
    transport,
    handler: {
      onRequestHeaders(h: HeaderList, s: StreamContext): RequestHeadersReply {
        const cluster = pickCluster(h.get('x-session-id'));
        s.decision = cluster;
        return {
          set: [
            ['x-bandit-cluster', cluster],
            ['x-bandit-decision-id', `d${++seq}`],
          ],
          remove: [],
          clearRouteCache: true,
        };
      },
      onResponseHeaders(h: HeaderList, s: StreamContext): ResponseHeadersReply {
        void h.get(':status');
        return { set: [['x-bandit-arm', s.decision as string]] };
      },
      onStreamEnd() {},
    },
  });
  return (await server.start()).port;
}

function serverChild(role: ServerRole): void {
  let base = process.cpuUsage();
  let wall = performance.now();
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'reset') {
      base = process.cpuUsage();
      wall = performance.now();
      process.send!({ cmd: 'reset-ok' });
    } else if (m.cmd === 'report') {
      const d = process.cpuUsage(base);
      process.send!({ cmd: 'cpu', cpuMs: (d.user + d.system) / 1000, wallMs: performance.now() - wall });
    } else if (m.cmd === 'exit') {
      process.exit(0);
    }
  });
  (role === 'naive' ? startNaive() : role === 'h2-floor' ? startH2Floor() : startOurs(role === 'ours' ? 'grpc-js' : 'http2')).then(
    (port) => process.send!({ cmd: 'ready', port }),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------------------
// Client child.

/** Envoy-like header sets, encoded once with protobufjs. */
function envoyLikeMessages(): { req: Buffer; resp: Buffer } {
  const def = protoLoader.loadSync(EXT_PROC_PROTO, LOADER_OPTIONS);
  const svc = def[EXT_PROC_SERVICE_NAME] as protoLoader.ServiceDefinition;
  const method = svc.Process as protoLoader.MethodDefinition<object, object>;
  const hv = (o: Record<string, string>) => Object.entries(o).map(([key, v]) => ({ key, raw_value: Buffer.from(v) }));
  const req = method.requestSerialize({
    request_headers: {
      headers: {
        headers: hv({
          ':authority': '127.0.0.1:10000',
          ':path': '/v1/chat/completions',
          ':method': 'POST',
          ':scheme': 'http',
          'user-agent': 'bench/1.0',
          accept: 'application/json',
          'content-type': 'application/json',
          'content-length': '312',
          'x-session-id': 'session-4711',
          'x-forwarded-proto': 'http',
          'x-request-id': '6f1c1e0a-3b7e-4c7a-9d2c-5b9f2f7d1a11',
        }),
      },
      end_of_stream: false,
    },
    protocol_config: {},
  });
  const resp = method.requestSerialize({
    response_headers: {
      headers: {
        headers: hv({
          ':status': '200',
          'content-type': 'application/json',
          'content-length': '1024',
          date: 'Mon, 23 Nov 2026 12:00:00 GMT',
          'x-envoy-upstream-service-time': '12',
          'x-reward': '0.8',
        }),
      },
    },
  });
  return { req, resp };
}

/** gRPC length-prefixed frame. */
function grpcFrame(msg: Buffer): Buffer {
  const out = Buffer.alloc(msg.length + 5);
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

/**
 * The load client speaks gRPC over node:http2 directly, like Envoy's own client
 * (not grpc-js), which keeps client CPU low. In 'reset' mode it rotates
 * connections every STREAMS_PER_SESSION streams, as envoy/envoy.yaml does with
 * max_requests_per_connection, so the server's HTTP/2 reset-flood guard stays quiet.
 */
const STREAMS_PER_SESSION = 500;

async function clientRun(address: string, streams: number, concurrency: number, close: CloseMode): Promise<{ wallMs: number; errors: number }> {
  const { req, resp } = envoyLikeMessages();
  const reqFrame = grpcFrame(req);
  const respFrame = grpcFrame(resp);
  let session: http2.ClientHttp2Session | undefined;
  let onSession = 0;
  const currentSession = (): http2.ClientHttp2Session => {
    if (!session || (close === 'reset' && onSession >= STREAMS_PER_SESSION)) {
      session?.close();
      session = http2.connect(`http://${address}`, { maxSessionMemory: 64 });
      session.on('error', () => {});
      onSession = 0;
    }
    onSession++;
    return session;
  };
  const headers = {
    ':method': 'POST',
    ':path': EXT_PROC_METHOD_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
  };
  let errors = 0;
  const fail = (why: string) => {
    errors++;
    if (errors <= 3) console.error('bench stream error:', why);
  };
  const oneStream = () =>
    new Promise<void>((resolve) => {
      const call = currentSession().request(headers);
      let got = 0;
      let pending = 0; // bytes left of the current frame
      let grpcStatus: string | undefined;
      call.on('response', (h) => {
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      });
      call.on('data', (chunk: Buffer) => {
        // Count complete gRPC messages (replies are tiny; a frame header never spans chunks here).
        let off = 0;
        while (off < chunk.length) {
          if (pending === 0) {
            if (chunk.length - off < 5) return fail('split frame header');
            pending = chunk.readUInt32BE(off + 1);
            off += 5;
            if (pending === 0) got++;
            continue;
          }
          const take = Math.min(pending, chunk.length - off);
          pending -= take;
          off += take;
          if (pending === 0) got++;
        }
        if (got === 1) call.write(respFrame);
        else if (got === 2) {
          // The code Envoy 1.40 resets answered ext_proc streams with.
          if (close === 'reset') call.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
          else call.end();
        }
      });
      call.on('trailers', (t) => {
        grpcStatus = String(t['grpc-status']);
      });
      let err = '';
      call.on('error', (e: Error & { code?: string }) => {
        err = e.code ?? e.message;
      });
      call.on('close', () => {
        if (got !== 2) fail(`got ${got} replies (rst ${call.rstCode} ${err})`);
        else if (close === 'half-close' && grpcStatus !== '0') fail(`grpc-status ${grpcStatus}`);
        resolve();
      });
      call.write(reqFrame);
    });
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < streams) {
        next++;
        await oneStream();
      }
    }),
  );
  const wallMs = performance.now() - start;
  session?.close();
  return { wallMs, errors };
}

function clientChild(): void {
  process.on('message', (m: { cmd: string; address: string; streams: number; concurrency: number; close: CloseMode }) => {
    if (m.cmd !== 'run') return;
    clientRun(m.address, m.streams, m.concurrency, m.close).then(
      (r) => {
        process.send!({ cmd: 'done', ...r });
        process.exit(0);
      },
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  });
  process.send!({ cmd: 'ready' });
}

// ---------------------------------------------------------------------------
// Parent.

const SELF = fileURLToPath(import.meta.url);

function spawnRole(role: Role): ChildProcess {
  return fork(SELF, [`--role=${role}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
}

function nextMessage<T>(child: ChildProcess, cmd: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { cmd: string }) => {
      if (m.cmd === cmd) {
        child.off('message', onMsg);
        child.off('exit', onExit);
        resolve(m as T);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`bench child exited (${code}) before '${cmd}'`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

async function drive(address: string, streams: number, concurrency: number, close: CloseMode): Promise<{ wallMs: number; errors: number }> {
  const client = spawnRole('client');
  await nextMessage(client, 'ready');
  client.send({ cmd: 'run', address, streams, concurrency, close });
  return nextMessage<{ wallMs: number; errors: number }>(client, 'done');
}

async function measure(role: ServerRole, o: Required<Omit<ExtProcBenchOptions, 'log'>>): Promise<ServerFigures> {
  const server = spawnRole(role);
  try {
    const { port } = await nextMessage<{ port: number }>(server, 'ready');
    const address = `127.0.0.1:${port}`;
    await drive(address, o.warmupStreams, o.concurrency, o.close);
    server.send({ cmd: 'reset' });
    await nextMessage(server, 'reset-ok');
    const run = await drive(address, o.streams, o.concurrency, o.close);
    server.send({ cmd: 'report' });
    const cpu = await nextMessage<{ cpuMs: number }>(server, 'cpu');
    return {
      streams: o.streams,
      cpuMs: cpu.cpuMs,
      wallMs: run.wallMs,
      errors: run.errors,
      streamsPerCpuSecond: o.streams / (cpu.cpuMs / 1000),
    };
  } finally {
    server.send({ cmd: 'exit' });
    server.kill();
  }
}

function best(a: ServerFigures | undefined, b: ServerFigures): ServerFigures {
  return !a || b.streamsPerCpuSecond > a.streamsPerCpuSecond ? b : a;
}

/** Runs both servers `rounds` times, alternating, and keeps each one's best round. */
export async function runExtProcBench(opts: ExtProcBenchOptions = {}): Promise<ExtProcBenchResult> {
  const o = {
    streams: opts.streams ?? EXTPROC_BENCH_DEFAULTS.streams,
    warmupStreams: opts.warmupStreams ?? EXTPROC_BENCH_DEFAULTS.warmupStreams,
    concurrency: opts.concurrency ?? EXTPROC_BENCH_DEFAULTS.concurrency,
    rounds: opts.rounds ?? EXTPROC_BENCH_DEFAULTS.rounds,
    close: opts.close ?? EXTPROC_BENCH_DEFAULTS.close,
  };
  const log = opts.log ?? ((l: string) => console.log(l));
  const bestOf: Partial<Record<ServerRole, ServerFigures>> = {};
  for (let r = 0; r < o.rounds; r++) {
    for (const role of ['naive', 'ours', 'ours-h2', 'h2-floor'] as const) {
      const f = await measure(role, o);
      log(
        `round ${r + 1} ${role.padEnd(7)} streams=${f.streams} cpu=${f.cpuMs.toFixed(0)}ms wall=${f.wallMs.toFixed(0)}ms ` +
          `errors=${f.errors} streams/cpu-s=${f.streamsPerCpuSecond.toFixed(0)}`,
      );
      bestOf[role] = best(bestOf[role], f);
    }
  }
  const naive = bestOf.naive!;
  const ours = bestOf.ours!;
  const oursHttp2 = bestOf['ours-h2']!;
  return {
    naive,
    ours,
    oursHttp2,
    ratio: ours.streamsPerCpuSecond / naive.streamsPerCpuSecond,
    ratioHttp2: oursHttp2.streamsPerCpuSecond / naive.streamsPerCpuSecond,
    h2Floor: bestOf['h2-floor']!,
    options: o,
  };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const role = argValue('role') as Role | undefined;
  if (role === 'naive' || role === 'ours' || role === 'ours-h2' || role === 'h2-floor') serverChild(role);
  else if (role === 'client') clientChild();
  else {
    const num = (n: string) => (argValue(n) !== undefined ? Number(argValue(n)) : undefined);
    const opts: ExtProcBenchOptions = {};
    if (num('streams') !== undefined) opts.streams = num('streams')!;
    if (num('warmup') !== undefined) opts.warmupStreams = num('warmup')!;
    if (num('concurrency') !== undefined) opts.concurrency = num('concurrency')!;
    if (num('rounds') !== undefined) opts.rounds = num('rounds')!;
    const close = argValue('close');
    if (close === 'reset' || close === 'half-close') opts.close = close;
    runExtProcBench(opts).then(
      (r) => {
        console.log(
          `ext_proc streams per server CPU-second: naive=${r.naive.streamsPerCpuSecond.toFixed(0)} ` +
            `ours(grpc-js)=${r.ours.streamsPerCpuSecond.toFixed(0)} (${r.ratio.toFixed(2)}x) ` +
            `ours(http2)=${r.oursHttp2.streamsPerCpuSecond.toFixed(0)} (${r.ratioHttp2.toFixed(2)}x) ` +
            `[node:http2 floor=${r.h2Floor.streamsPerCpuSecond.toFixed(0)} (${(r.h2Floor.streamsPerCpuSecond / r.naive.streamsPerCpuSecond).toFixed(2)}x)] ` +
            `(streams=${r.options.streams}, concurrency=${r.options.concurrency}, close=${r.options.close}, best of ${r.options.rounds})`,
        );
        if (r.naive.errors + r.ours.errors + r.oursHttp2.errors > 0) {
          console.error(`errors: naive=${r.naive.errors} ours=${r.ours.errors} ours(http2)=${r.oursHttp2.errors}`);
          process.exitCode = 2;
        }
      },
      (e) => {
        console.error(e);
        process.exitCode = 2;
      },
    );
  }
}
