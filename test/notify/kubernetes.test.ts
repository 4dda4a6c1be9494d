/**
 * Kubernetes Events against a fake API server started by the test (HTTPS
 * with a throw-away CA from openssl): in-cluster detection from the
 * environment and the service-account files, a core/v1 Event per notice with
 * the token, and a 403 switching the target off after one attempt.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delivery } from '../../src/notify/delivery.js';
import { severityOf, summaryOf, type BanditEvent, type Notice } from '../../src/notify/events.js';
import { detectInCluster, kubernetesTarget, type InCluster } from '../../src/notify/targets.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'eb-k8s-'));
const posts: Array<{ path: string; auth: string | undefined; body: Record<string, unknown> }> = [];
let answer = 201;
let server: Server;
let port = 0;

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.crt')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'token'), 'sa-token-abc\n');
  writeFileSync(join(dir, 'namespace'), 'inference\n');
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.crt')) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      res.writeHead(answer, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const e: BanditEvent = { kind: 'quarantine', scope: 'fleet', origin: 'trip', route: 'chat', arm: 'model-b', rule: 'error_rate', since: 1, until: 60_001, readings: [] };
const notice: Notice = { id: 'q/1', event: e, replica: 'router-0', time: Date.now(), severity: severityOf(e), summary: summaryOf(e) };

describe('Kubernetes Events', () => {
  it('detects the cluster only with the env and the service-account files', async () => {
    expect(await detectInCluster({}, dir)).toEqual({ reason: 'KUBERNETES_SERVICE_HOST is not set' });
    expect(await detectInCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', POD_NAME: 'p' }, join(dir, 'nope'))).toMatchObject({ reason: expect.stringContaining('no service-account files') });
    expect(await detectInCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port), POD_NAME: 'router-0' }, dir)).toMatchObject({ host: '127.0.0.1', port, token: 'sa-token-abc', namespace: 'inference', pod: 'router-0' });
  });

  it('posts a Warning Event on the pod for a quarantine, and stops after a 403', async () => {
    const c = (await detectInCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port), POD_NAME: 'router-0', POD_UID: 'uid-1' }, dir)) as InCluster;
    const forbidden: string[] = [];
    const counts: Record<string, number> = {};
    const d = new Delivery(kubernetesTarget(c, (err) => forbidden.push(err)), { queue: 10, retries: 2, timeoutMs: 2_000, backoffMs: 10, logger: silentLogger(), count: (_t, o) => (counts[o] = (counts[o] ?? 0) + 1) });
    d.enqueue(notice);
    await waitFor(() => counts.sent === 1);
    expect(posts[0]).toMatchObject({
      path: '/api/v1/namespaces/inference/events',
      auth: 'Bearer sa-token-abc',
      body: { kind: 'Event', reason: 'ArmQuarantined', type: 'Warning', involvedObject: { kind: 'Pod', name: 'router-0', namespace: 'inference', uid: 'uid-1' }, message: expect.stringContaining('arm model-b of route chat') },
    });
    answer = 403;
    d.enqueue(notice);
    await waitFor(() => counts.failed === 1);
    d.enqueue(notice);
    await new Promise((r) => setTimeout(r, 50));
    expect(posts).toHaveLength(2); // one attempt at the 403, no retries, nothing after
    expect(forbidden).toHaveLength(1);
  });
});
