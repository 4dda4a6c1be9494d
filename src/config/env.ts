/**
 * `${VAR}` / `${VAR:-default}` expansion over the config text (so a reference
 * may stand anywhere a value can, numbers included). Comments are left alone;
 * `$${` is a literal `${`.
 */
import { CST, Lexer } from 'yaml';
import { err, ok, type Result } from '../util/errors.js';
import type { ConfigIssue } from './types.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** One replaced span: where it was in the source and where its replacement sits in the output. */
export interface Substitution {
  origStart: number;
  origEnd: number;
  expStart: number;
  expEnd: number;
}

export interface EnvProblem {
  kind: 'unset' | 'malformed';
  /** The variable, or the malformed reference text. */
  name: string;
  /** Offsets of the reference in the source and of its (empty) replacement in the output. */
  origOffset: number;
  expOffset: number;
}

export interface Expansion {
  text: string;
  subs: Substitution[];
  problems: EnvProblem[];
}

const REF_RE = /\$\$\{|\$\{([^}\n]*)\}/g;
const BODY_RE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;
const SYNTHETIC_TOKENS = new Set([CST.DOCUMENT, CST.FLOW_END, CST.SCALAR]);

/** [start, end) of every YAML comment, so references in comments are not expanded. */
function commentRanges(text: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let offset = 0;
  for (const tok of new Lexer().lex(text)) {
    if (SYNTHETIC_TOKENS.has(tok)) continue;
    if (CST.tokenType(tok) === 'comment') ranges.push([offset, offset + tok.length]);
    offset += tok.length;
  }
  return ranges;
}

/** The full expansion with its offset map; unset variables expand to '' and are reported. */
export function expandWithMap(text: string, env: Env): Expansion {
  const comments = commentRanges(text);
  const inComment = (at: number) => comments.some(([s, e]) => at >= s && at < e);
  const subs: Substitution[] = [];
  const problems: EnvProblem[] = [];
  let out = '';
  let last = 0;
  for (const m of text.matchAll(REF_RE)) {
    const start = m.index;
    if (inComment(start)) continue;
    let replacement: string;
    if (m[0] === '$${') {
      replacement = '${';
    } else {
      const body = BODY_RE.exec(m[1] ?? '');
      const name = body?.[1];
      const expStart = out.length + (start - last);
      if (body === null || name === undefined) {
        problems.push({ kind: 'malformed', name: m[0], origOffset: start, expOffset: expStart });
        replacement = '';
      } else {
        const value = env[name];
        const fallback = body[2];
        if (value !== undefined && (value !== '' || fallback === undefined)) replacement = value;
        else if (fallback !== undefined) replacement = fallback;
        else {
          problems.push({ kind: 'unset', name, origOffset: start, expOffset: expStart });
          replacement = '';
        }
      }
    }
    out += text.slice(last, start);
    subs.push({ origStart: start, origEnd: start + m[0].length, expStart: out.length, expEnd: out.length + replacement.length });
    out += replacement;
    last = start + m[0].length;
  }
  out += text.slice(last);
  return { text: out, subs, problems };
}

/** `environment variable X is not set (line 3); use ${X:-default} for a fallback` */
export function envProblemMessage(p: EnvProblem, line: number): string {
  if (p.kind === 'malformed') return `malformed environment reference ${p.name} (line ${line}); expected \${NAME} or \${NAME:-default}`;
  return `environment variable ${p.name} is not set (line ${line}); use \${${p.name}:-default} for a fallback`;
}

/** Maps an offset in the expanded text back to the source (inside a replacement: its reference). */
export function toSourceOffset(subs: readonly Substitution[], offset: number): number {
  let delta = 0;
  for (const s of subs) {
    if (offset < s.expStart) break;
    if (offset < s.expEnd) return s.origStart;
    delta = s.origEnd - s.expEnd;
  }
  return offset + delta;
}

/** 1-based line and column of an offset. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: end - lineStart + 1 };
}

/**
 * Expands `${VAR}` and `${VAR:-default}`. An unset variable without a default
 * (or a malformed reference) is an issue naming it and its line.
 */
export function expandEnv(text: string, env: Env): Result<string, ConfigIssue[]> {
  const { text: out, problems } = expandWithMap(text, env);
  if (problems.length === 0) return ok(out);
  return err(
    problems.map((p) => {
      const { line } = lineCol(text, p.origOffset);
      return { path: `line ${line}`, message: envProblemMessage(p, line) };
    }),
  );
}
