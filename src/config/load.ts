/**
 * Config loading: text → env expansion → YAML → schema + relation checks →
 * Config, or every issue found. Nothing here throws.
 */
import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { err, ok, type Result } from '../util/errors.js';
import { checkRelations } from './checks.js';
import { envProblemMessage, expandWithMap, lineCol, toSourceOffset, type Env } from './env.js';
import { configErrorMap, formatPath, fromZodIssues, type PathSegment } from './issues.js';
import { buildConfigSchema } from './schema.js';
import { schemaKeys, suggestKey } from './suggest.js';
import type { Config, ConfigIssue } from './types.js';

export { expandEnv } from './env.js';
export { formatIssues } from './issues.js';

export interface LoadOptions {
  /** Variables for `${VAR}`; default process.env. HOSTNAME, when absent, is the hostname below. */
  env?: Env;
  /** Default replica_id; default os.hostname(). */
  hostname?: string;
}

let keyCache: Set<string> | undefined;
/** The schema's keys do not depend on the options it was built with; walked once. */
function knownKeys(schema: ReturnType<typeof buildConfigSchema>): Set<string> {
  return (keyCache ??= schemaKeys(schema));
}

/** Larger than any sane config; guards against reading something that is not one. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** YAML aliases may not blow the document up (billion laughs). */
const MAX_ALIAS_COUNT = 100;

export function parseConfig(text: string, opts: LoadOptions = {}): Result<Config, ConfigIssue[]> {
  try {
    return parseUnsafe(text, opts);
  } catch (e) {
    // A bug, not a config problem; still reported as a value so callers never see a throw.
    return err([{ path: '', message: `internal error while checking the config: ${(e as Error).message}` }]);
  }
}

function parseUnsafe(text: string, opts: LoadOptions): Result<Config, ConfigIssue[]> {
  const hostname = opts.hostname ?? osHostname();
  const baseEnv = opts.env ?? process.env;
  // `replica_id: ${HOSTNAME}` (the contract's example) works where the shell does not export HOSTNAME.
  const env = baseEnv.HOSTNAME === undefined ? { ...baseEnv, HOSTNAME: hostname } : baseEnv;
  const expansion = expandWithMap(text, env);
  const doc = parseDocument(expansion.text, { prettyErrors: false, uniqueKeys: true, strict: true, version: '1.2' });

  const envIssues = expansion.problems.map((p) => {
    const path = doc.errors.length === 0 ? pathAt(doc, p.expOffset) : undefined;
    const { line } = lineCol(text, p.origOffset);
    const where = path === undefined || path.length === 0 ? `line ${line}` : formatPath(path);
    return { path: where, message: envProblemMessage(p, line) };
  });

  if (doc.errors.length > 0) {
    const yamlIssues = doc.errors.map((e) => {
      const { line, col } = lineCol(text, toSourceOffset(expansion.subs, e.pos[0]));
      return { path: `line ${line}, col ${col}`, message: `YAML: ${firstLine(e.message)}` };
    });
    return err([...envIssues, ...yamlIssues]);
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    return err([...envIssues, { path: '', message: `YAML: ${firstLine((e as Error).message)}` }]);
  }

  const schema = buildConfigSchema({ hostname });
  const parsed = schema.safeParse(data, { error: configErrorMap });
  const found = [...(parsed.success ? [] : fromZodIssues(parsed.error.issues, (key) => suggestKey(key, knownKeys(schema)))), ...checkRelations(data)];
  // A field whose variable is unset gets the env issue only, not the schema's complaint about ''.
  const envPaths = envIssues.map((i) => i.path);
  const covered = (path: string) => envPaths.some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
  const issues = dedupe([...envIssues, ...found.filter((i) => !covered(i.path))]);
  if (issues.length > 0 || !parsed.success) return err(issues);
  return ok(parsed.data);
}

/** Reads and parses a config file; read errors are issues too. */
export async function loadConfigFile(path: string, opts: LoadOptions = {}): Promise<Result<Config, ConfigIssue[]>> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_CONFIG_BYTES) return err([{ path, message: `config file is larger than ${MAX_CONFIG_BYTES} bytes` }]);
    text = buf.toString('utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    return err([{ path, message: `cannot read config: ${reason}` }]);
  }
  return parseConfig(text, opts);
}

function firstLine(s: string): string {
  return (s.split('\n', 1)[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\0${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

type Ranged = { range?: [number, number, number] | null } | null | undefined;
const rangeOf = (n: unknown): [number, number, number] | undefined => (n as Ranged)?.range ?? undefined;

/** The path of the deepest mapping value or list item whose source span holds `offset`. */
function pathAt(doc: Document, offset: number): PathSegment[] | undefined {
  const walk = (node: unknown, path: PathSegment[]): PathSegment[] | undefined => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const start = rangeOf(pair.key)?.[0];
        const end = rangeOf(pair.value)?.[1] ?? rangeOf(pair.key)?.[1];
        if (start === undefined || end === undefined || offset < start || offset > end) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        return walk(pair.value, [...path, key]) ?? [...path, key];
      }
      return undefined;
    }
    if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const r = rangeOf(node.items[i]);
        if (r !== undefined && offset >= r[0] && offset <= r[1]) return walk(node.items[i], [...path, i]) ?? [...path, i];
      }
    }
    return undefined;
  };
  return walk(doc.contents, []);
}
