/**
 * `npm run bench`: every benchmark, each printing its figures as ratios to a
 * baseline measured side by side in the same run. Nothing here asserts; the
 * README quotes the figures. `--only a,b` runs a subset
 * (policy, contextual, extproc, aggregator, gossip, sticky, body-rewrite, e2e, envoy-peer, quarantine).
 */
import { formatAggregatorResult, runAggregatorBench } from './aggregator.js';
import { formatBodyRewriteRows, runBodyRewriteBench } from './body-rewrite.js';
import { formatContextualRows, runContextualBench } from './contextual.js';
import { formatE2eResult, runEnvoyE2eBench } from './envoy-e2e.js';
import { formatPeerResult, runEnvoyPeerBench } from './envoy-peer.js';
import { runExtProcBench } from './extproc.js';
import { formatFlatResult, runFlatBench } from './flat.js';
import { formatGossipResult, runGossipBench } from './gossip.js';
import { formatRows, runPolicyBench } from './policy.js';
import { formatQuarantineResult, runQuarantineBench } from './quarantine-time.js';
import { formatStickyMemoryResult, runStickyMemoryBench } from './sticky-memory.js';

const BENCHES: Record<string, { title: string; run: () => Promise<string> }> = {
  policy: {
    title: 'Decisions per second per policy vs a weighted-random pick of the same arms (in process)',
    run: async () => formatRows(await runPolicyBench()),
  },
  contextual: {
    title: 'Contextual decisions per second, 16 features x 5 arms, vs context-free Thompson (in process)',
    run: async () => formatContextualRows(await runContextualBench()),
  },
  extproc: {
    title: 'ext_proc streams per server CPU-second vs a naive grpc-js + proto-loader server',
    run: async () => {
      const r = await runExtProcBench({ log: () => {} });
      const f = (x: { streamsPerCpuSecond: number }) => x.streamsPerCpuSecond.toFixed(0).padStart(8);
      return [
        `naive grpc-js + proto-loader   ${f(r.naive)}   1.00x`,
        `ours, transport grpc-js        ${f(r.ours)}   ${r.ratio.toFixed(2)}x`,
        `ours, transport http2 (default)${f(r.oursHttp2)}   ${r.ratioHttp2.toFixed(2)}x   (target >= 2x)`,
        `node:http2, constant replies   ${f(r.h2Floor)}   ${(r.h2Floor.streamsPerCpuSecond / r.naive.streamsPerCpuSecond).toFixed(2)}x   (the transport's ceiling)`,
      ].join('\n');
    },
  },
  aggregator: { title: 'Aggregator ingest, rewards per second (target >= 50,000)', run: async () => formatAggregatorResult(await runAggregatorBench()) },
  gossip: { title: 'Gossip rounds to converge, 16 in-process replicas (target <= 4)', run: async () => formatGossipResult(await runGossipBench()) },
  flat: {
    title: 'A flat data path: 10 M decisions through handler, engine, metrics and guardrails (CPU µs/request, heap start → end)',
    run: async () => formatFlatResult(await runFlatBench()),
  },
  sticky: { title: 'Sticky sessions: RSS holding 1,000,000 sessions vs the previous raw-key LRU (target <= 250 MB)', run: async () => formatStickyMemoryResult(await runStickyMemoryBench()) },
  'body-rewrite': { title: 'Per-arm model rewrite (Envoy buffers the body) vs a headers-only route, same Envoy and sidecar', run: async () => formatBodyRewriteRows(await runBodyRewriteBench()) },
  'envoy-peer': {
    title: 'native weighted_clusters vs envoy-bandit (two-phase, access-log) vs the Go ext_proc peer (two-phase, one-phase), Envoy 1 worker, pinned',
    run: async () => formatPeerResult(await runEnvoyPeerBench({ log: (l) => console.log(l) })),
  },
  quarantine: {
    title: 'Time to quarantine a failing arm at 200 req/s and the reward delay, two-phase vs access-log outcomes (target <= 0.5 s)',
    run: async () => formatQuarantineResult(await runQuarantineBench({ log: (l) => console.log(l) })),
  },
  e2e: { title: 'Envoy + envoy-bandit vs Envoy weighted_clusters, same backends, same load tools', run: async () => formatE2eResult(await runEnvoyE2eBench()) },
};

async function main(): Promise<void> {
  const i = process.argv.indexOf('--only');
  const only = i >= 0 ? process.argv[i + 1]!.split(',') : Object.keys(BENCHES);
  for (const name of only) {
    const b = BENCHES[name];
    if (!b) throw new Error(`unknown bench ${name}; choose from ${Object.keys(BENCHES).join(', ')}`);
    console.log(`\n== ${name}: ${b.title}`);
    const t0 = Date.now();
    console.log(await b.run());
    console.log(`(${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
