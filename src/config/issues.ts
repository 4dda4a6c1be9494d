/**
 * Config issues: path formatting (`routes[0].arms[1].cluster`), the messages
 * for schema issues, and the text form the CLI prints.
 */
import type { z } from 'zod';
import { BanditError, ErrorCodes } from '../util/errors.js';
import type { ConfigIssue } from './types.js';

export type PathSegment = string | number;

const PLAIN_KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

/** `['routes', 0, 'arms', 1, 'cluster']` → `routes[0].arms[1].cluster`; odd keys are quoted: `weights["a.b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const key = String(seg);
      if (PLAIN_KEY_RE.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

export function issue(path: readonly PropertyKey[] | string, message: string): ConfigIssue {
  return { path: typeof path === 'string' ? path : formatPath(path), message };
}

/** Shown where an issue concerns the whole document. */
export const ROOT_PATH = '(root)';

/** `path: message` lines, in the order given; `[code]` at the end of an issue that has one. */
export function formatIssues(issues: readonly ConfigIssue[]): string[] {
  return issues.map((i) => `${i.path === '' ? ROOT_PATH : i.path}: ${i.message}${i.code ? ` [${i.code}]` : ''}`);
}

/** A file loader's error (which names the file) at the config path that names the file. */
export function fileIssue(path: string, error: BanditError): ConfigIssue {
  return { path, message: error.message, code: error.code };
}

/**
 * What a start-up read throws when a file it needs is bad (it changed since
 * the commands checked it, or the caller skipped the check): the first
 * issue's code, every issue in the message and in `details`.
 */
export function issuesError(issues: readonly ConfigIssue[]): BanditError {
  return new BanditError(issues[0]?.code ?? ErrorCodes.CONFIG_INVALID, formatIssues(issues).join('; '), issues);
}

/** A config refused as a whole: EB_CONFIG_INVALID carrying every issue (`issues`), each naming its path. */
export class ConfigRejection extends BanditError {
  constructor(
    readonly issues: readonly ConfigIssue[],
    message: string,
  ) {
    super(ErrorCodes.CONFIG_INVALID, message, issues);
  }
}

/** A short description of a value for messages: `"abc"`, `42`, `null`, `a list`, `a mapping`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return String(v);
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
};

function bound(inclusive: boolean | undefined, below: boolean): string {
  if (below) return inclusive === false ? '>' : '≥';
  return inclusive === false ? '<' : '≤';
}

/**
 * Per-parse error map: messages for the generic zod issues. Messages set on a
 * schema (`{ error: ... }`) take precedence over this.
 */
export const configErrorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required';
      return `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
    case 'invalid_value':
      return `expected ${(iss.values as unknown[]).map((v) => describeValue(v)).join(' | ')}, got ${describeValue(iss.input)}`;
    case 'too_small':
      if (iss.origin === 'array') return `needs at least ${iss.minimum} item${iss.minimum === 1 ? '' : 's'}`;
      if (iss.origin === 'string') return iss.minimum === 1 ? 'must not be empty' : `needs at least ${iss.minimum} characters`;
      return `must be ${bound(iss.inclusive, true)} ${iss.minimum}, got ${describeValue(iss.input)}`;
    case 'too_big':
      if (iss.origin === 'array') return `allows at most ${iss.maximum} items`;
      if (iss.origin === 'string') return `allows at most ${iss.maximum} characters`;
      return `must be ${bound(iss.inclusive, false)} ${iss.maximum}, got ${describeValue(iss.input)}`;
    case 'invalid_union':
      if (iss.discriminator !== undefined) {
        const input = iss.input as Record<string, unknown> | undefined;
        const given = input?.[String(iss.discriminator)];
        const options = ((iss.options as unknown[] | undefined) ?? []).map(String).join(' | ');
        return given === undefined ? `required (one of ${options})` : `unknown ${iss.discriminator} ${describeValue(given)}; expected one of ${options}`;
      }
      return `invalid value ${describeValue(iss.input)}`;
    case 'invalid_format':
      return `invalid format: ${describeValue(iss.input)}`;
    case 'invalid_key':
      return 'invalid key';
    default:
      return undefined;
  }
};

/**
 * Zod issues → ConfigIssues; an unknown-keys issue becomes one issue per key,
 * at that key, with the nearest key `suggest` knows ("did you mean").
 */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[], suggest: (key: string) => string | undefined = () => undefined): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) {
        const near = suggest(key);
        out.push(issue([...iss.path, key], near === undefined ? 'unknown key' : `unknown key (did you mean ${JSON.stringify(near)}?)`));
      }
    } else {
      out.push(issue(iss.path, iss.message));
    }
  }
  return out;
}
