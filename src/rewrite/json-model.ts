/**
 * Rewrites the top-level `"model"` string of a JSON request body without
 * parsing the rest: a single forward scan finds the value's byte span, and
 * only those bytes change. Numbers, key order, whitespace and nested values
 * stay byte-for-byte what the client sent (a parse-and-stringify round trip
 * would reformat them and lose integer precision past 2^53).
 */

export type ModelRewriteSkip = 'not_json' | 'no_model_field';
export type ModelRewrite = { ok: true; body: Buffer } | { ok: false; reason: ModelRewriteSkip };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MODEL_KEY = Buffer.from('model');
const NOT_JSON: ModelRewrite = { ok: false, reason: 'not_json' };
const NO_MODEL: ModelRewrite = { ok: false, reason: 'no_model_field' };

const isSpace = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

function skipSpace(buf: Buffer, i: number): number {
  while (i < buf.length && isSpace(buf[i])) i++;
  return i;
}

/** Index just past the string starting at `i` (a quote), or -1. */
function skipString(buf: Buffer, i: number): number {
  for (i++; i < buf.length; i++) {
    const b = buf[i]!;
    if (b === BACKSLASH) i++;
    else if (b === QUOTE) return i + 1;
    else if (b < 0x20) return -1;
  }
  return -1;
}

/** Index just past the value starting at `i`, or -1. Containers are skipped by depth, strings by their quotes. */
function skipValue(buf: Buffer, i: number): number {
  const b = buf[i];
  if (b === QUOTE) return skipString(buf, i);
  if (b === 0x7b || b === 0x5b) {
    let depth = 0;
    for (; i < buf.length; i++) {
      const c = buf[i]!;
      if (c === QUOTE) {
        i = skipString(buf, i);
        if (i < 0) return -1;
        i--;
      } else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  // number, true, false, null: up to the next delimiter
  const start = i;
  while (i < buf.length) {
    const c = buf[i]!;
    if (c === 0x2c || c === 0x7d || c === 0x5d || isSpace(c)) break;
    i++;
  }
  return i > start ? i : -1;
}

/**
 * The body with its top-level `model` replaced by `model` (JSON-escaped), or
 * why not: not a JSON object, or no top-level `model` string (a body that
 * names no model is left for the backend to answer).
 */
export function rewriteModel(body: Buffer, model: string): ModelRewrite {
  // Every top-level "model" string is replaced: parsers disagree on which duplicate wins.
  const spans: number[] = [];
  let i = skipSpace(body, 0);
  if (body[i] !== 0x7b) return NOT_JSON;
  i = skipSpace(body, i + 1);
  if (body[i] === 0x7d) return NO_MODEL;
  for (;;) {
    if (body[i] !== QUOTE) return NOT_JSON;
    const keyEnd = skipString(body, i);
    if (keyEnd < 0) return NOT_JSON;
    const isModel = keyEnd - i - 2 === MODEL_KEY.length && body.compare(MODEL_KEY, 0, MODEL_KEY.length, i + 1, keyEnd - 1) === 0;
    i = skipSpace(body, keyEnd);
    if (body[i] !== 0x3a) return NOT_JSON;
    i = skipSpace(body, i + 1);
    const valueEnd = skipValue(body, i);
    if (valueEnd < 0) return NOT_JSON;
    if (isModel && body[i] === QUOTE) spans.push(i, valueEnd);
    i = skipSpace(body, valueEnd);
    if (body[i] === 0x2c) i = skipSpace(body, i + 1);
    else if (body[i] === 0x7d) break;
    else return NOT_JSON;
  }
  if (skipSpace(body, i + 1) !== body.length) return NOT_JSON;
  if (spans.length === 0) return NO_MODEL;
  const replacement = Buffer.from(JSON.stringify(model), 'utf8');
  const parts: Buffer[] = [];
  let from = 0;
  for (let s = 0; s < spans.length; s += 2) {
    parts.push(body.subarray(from, spans[s]), replacement);
    from = spans[s + 1]!;
  }
  parts.push(body.subarray(from));
  return { ok: true, body: Buffer.concat(parts) };
}
