import { it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createExtProcServer } from '../../src/extproc/server.js';
import { startBackend } from '../helpers/backend.js';
import { startEnvoy } from '../helpers/envoy.js';
it.each(['grpc-js', 'http2'] as const)('load %s', async (transport) => {
  const b = await Promise.all(['model_a','model_b','model_c'].map((n) => startBackend({ name: n })));
  let refused = 0;
  const server = createExtProcServer({ transport, address: '127.0.0.1:0', handler: { onRequestHeaders: () => ({ set: [['x-bandit-cluster', 'model_b']], remove: [], clearRouteCache: true }), onResponseHeaders: () => ({ set: [['x-bandit-arm', 'b']] }), onStreamEnd: () => {} }, onError: () => refused++ });
  const { port } = await server.start();
  const envoy = await startEnvoy({ extProc: { host: '127.0.0.1', port }, clusters: { model_a: b[0]!.port, model_b: b[1]!.port, model_c: b[2]!.port } });
  const out = execFileSync('hey', ['-n', '20000', '-c', '64', `http://127.0.0.1:${envoy.port}/x`], { encoding: 'utf8' });
  console.log(transport, out.split('\n').filter((l) => /Requests\/sec|\[2|\[5|Error/.test(l)).join(' | '));
  const st = await envoy.stats();
  console.log(transport, Object.entries(st).filter(([k, v]) => k.includes('ext_proc') && v > 0).map(([k, v]) => `${k.replace(/.*ext_proc\./, '')}=${v}`).join(' '), 'b:', b.map((x) => x.requests).join('/'));
  await envoy.stop(); await server.close(); await Promise.all(b.map((x) => x.stop()));
}, 300_000);
