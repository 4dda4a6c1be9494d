import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rewriteModel } from '../../src/rewrite/json-model.js';

const rw = (text: string, model = 'served') => {
  const r = rewriteModel(Buffer.from(text, 'utf8'), model);
  return r.ok ? r.body.toString('utf8') : r.reason;
};

describe('rewriteModel: the top-level "model" string, and nothing else', () => {
  it('replaces the value and keeps every other byte', () => {
    expect(rw('{"model":"a","messages":[]}')).toBe('{"model":"served","messages":[]}');
    expect(rw(' {\n  "stream": true,\n  "model" :  "a" ,\n  "n": 1.0 }\n')).toBe(' {\n  "stream": true,\n  "model" :  "served" ,\n  "n": 1.0 }\n');
    // integers past 2^53 survive (a parse/stringify round trip would round them)
    expect(rw('{"seed":12345678901234567890,"model":"a"}')).toBe('{"seed":12345678901234567890,"model":"served"}');
  });

  it('ignores "model" inside nested values and strings', () => {
    const body = '{"messages":[{"role":"user","content":"\\"model\\": \\"x\\""}],"tool":{"model":"inner"},"model":"a"}';
    expect(rw(body)).toBe(body.replace('"model":"a"', '"model":"served"'));
  });

  it('replaces every top-level duplicate (parsers disagree on which wins)', () => {
    expect(rw('{"model":"a","model":"b"}')).toBe('{"model":"served","model":"served"}');
  });

  it('escapes the new name as JSON', () => {
    expect(JSON.parse(rw('{"model":"a"}', 'org/na"me\\v1')).model).toBe('org/na"me\\v1');
  });

  it('says why when it cannot: not a JSON object, no model string', () => {
    expect(rw('[1,2]')).toBe('not_json');
    expect(rw('model=a')).toBe('not_json');
    expect(rw('{"model":"a"')).toBe('not_json');
    expect(rw('{"model":"a"} trailing')).toBe('not_json');
    expect(rw('{"model":"a\n"}')).toBe('not_json');
    expect(rw('{}')).toBe('no_model_field');
    expect(rw('{"prompt":"hi"}')).toBe('no_model_field');
    expect(rw('{"model":null}')).toBe('no_model_field');
    expect(rw('{"model":{"name":"a"}}')).toBe('no_model_field');
  });

  it('property: parsing the result gives the input with only model changed', () => {
    const json = fc.jsonValue({ maxDepth: 2 });
    fc.assert(
      fc.property(fc.dictionary(fc.string().filter((k) => k !== 'model' && k !== '__proto__'), json), fc.string(), fc.string(), fc.nat(), (obj, before, after, pos) => {
        const entries = Object.entries(obj);
        entries.splice(pos % (entries.length + 1), 0, ['model', before]);
        const text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
        const r = rewriteModel(Buffer.from(text, 'utf8'), after);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(JSON.parse(r.body.toString('utf8'))).toEqual({ ...JSON.parse(text), model: after });
      }),
      { numRuns: 150, seed: 13 },
    );
  });
});
