/**
 * Hostile-input tables: rows of raw HTTP requests, each with the status and the
 * stable error code it must get, sent over real sockets to a server on port 0.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { Sidecar } from '../../src/runtime/sidecar.js';
import { silentLogger } from '../../src/util/logger.js';
import { configYaml } from './admin-fixtures.js';
import { rawRequest, replyCode, type RawReply } from './raw-http.js';

export const HOSTILE_TOKEN = 'hostile-admin-token-5e1c9a7f3b2d';
/** Short slow-client limits so the slowloris rows take well under a second each. */
export const HOSTILE_LIMITS = { headersTimeoutMs: 400, bodyTimeoutMs: 400 };

export interface Row {
  name: string;
  /** The request bytes, or pieces sent `gapMs` apart (a slow client). */
  pieces: Array<string | Buffer>;
  gapMs?: number;
  status: number;
  /** Stable code in the JSON reply (`error.code`, or a feedback answer's `code`); null: a reply without one. */
  code: string | null;
}

export interface RowResult {
  name: string;
  status: number | null;
  code: string | null;
  ms: number;
}

/** Runs each row (one connection each) and reports what came back. A row that gets no answer in `timeoutMs` reports status null: a hang. */
export async function runRows(port: number, rows: Row[], timeoutMs = 3_000): Promise<RowResult[]> {
  const out: RowResult[] = [];
  for (const r of rows) {
    const reply: RawReply = await rawRequest({ port, pieces: r.pieces, gapMs: r.gapMs, timeoutMs });
    out.push({ name: r.name, status: reply.status, code: replyCode(reply), ms: reply.ms });
  }
  return out;
}

/** The expectation for `runRows`' result: the same rows with their required status and code. */
export const expected = (rows: Row[]) => rows.map((r) => ({ name: r.name, status: r.status, code: r.code }));
export const actual = (results: RowResult[]) => results.map(({ name, status, code }) => ({ name, status, code }));

/** `METHOD path` with headers and an optional body, as raw HTTP/1.1. */
export function http(method: string, path: string, opts: { headers?: Record<string, string>; body?: string; token?: boolean } = {}): string {
  const headers: Record<string, string> = { host: 'admin', ...(opts.token ? { authorization: `Bearer ${HOSTILE_TOKEN}` } : {}), ...opts.headers };
  if (opts.body !== undefined && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
    headers['content-length'] = String(Buffer.byteLength(opts.body));
  }
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `${method} ${path} HTTP/1.1\r\n${head}connection: close\r\n\r\n${opts.body ?? ''}`;
}

export interface AdminSidecar {
  sidecar: Sidecar;
  port: number;
  stop(): Promise<void>;
}

/** A real Sidecar (admin token, a feedback route `chat`, reload) with short slow-client limits; ext_proc and admin on port 0. */
export async function startAdminSidecar(): Promise<AdminSidecar> {
  const dir = await mkdtemp(join(tmpdir(), 'eb-hostile-'));
  await writeFile(join(dir, 'token'), HOSTILE_TOKEN);
  await writeFile(join(dir, 'key'), 'decision-id-key-9f8e7d6c5b4a3210');
  const yaml = configYaml([{ name: 'chat', feedback: '{ wait: 30s, default: 0.25 }' }, { name: 'plain' }], `admin: { token_file: ${join(dir, 'token')} }\ndecision_ids: { secret_file: ${join(dir, 'key')} }\nlog: { level: silent }\n`);
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, yaml);
  const parsed = parseConfig(yaml, { env: {} });
  if (!parsed.ok) throw new Error(`hostile config invalid: ${JSON.stringify(parsed.error)}`);
  const sidecar = await Sidecar.create({ config: parsed.value, logger: silentLogger(), seed: 5, env: {}, configPath, adminLimits: HOSTILE_LIMITS });
  await sidecar.start();
  const port = Number(sidecar.addresses.admin.slice(sidecar.addresses.admin.lastIndexOf(':') + 1));
  return {
    sidecar,
    port,
    async stop() {
      await sidecar.stop(500);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
