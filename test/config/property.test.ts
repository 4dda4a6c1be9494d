/** parseConfig returns a Result for any input; it never throws. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';

const isResult = (r: unknown): boolean => {
  const x = r as { ok?: unknown; value?: unknown; error?: unknown };
  if (x.ok === true) return typeof x.value === 'object' && x.value !== null;
  return x.ok === false && Array.isArray(x.error) && x.error.length > 0 && x.error.every((i: { path?: unknown; message?: unknown }) => typeof i.path === 'string' && typeof i.message === 'string' && i.message !== '');
};

/** parseConfig catches its own bugs as an "internal error" issue; those must not happen either. */
const noInternalError = (r: ReturnType<typeof parseConfig>): boolean => r.ok || r.error.every((i) => !i.message.startsWith('internal error'));

/** Fragments that steer random text towards YAML and the config's own keys. */
const YAMLISH = fc.constantFrom(
  'routes:', '\n', '  ', '- ', 'name: ', 'arms:', 'cluster: ', 'policy: ', '{ type: ', 'thompson', 'static', 'weights: ',
  'ttl: ', '30s', '${X}', '${Y:-1}', '$${', '[', ']', '{', '}', ', ', ': ', '#', '"', "'", '&a ', '*a', '|', '>', '---', 'null', '~', '0.5', '-1', 'x-session-id',
);

const ok = (r: ReturnType<typeof parseConfig>): boolean => isResult(r) && noInternalError(r);

const env = { X: 'value', Y: '' };

describe('parseConfig never throws', () => {
  it('on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        expect(ok(parseConfig(text, { env, hostname: 'h' }))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('on YAML-ish text', () => {
    fc.assert(
      fc.property(fc.array(YAMLISH, { maxLength: 60 }).map((parts) => parts.join('')), (text) => {
        expect(ok(parseConfig(text, { env, hostname: 'h' }))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('on arbitrary JSON values (as YAML and as JSON text)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        expect(ok(parseConfig(JSON.stringify(value), { env, hostname: 'h' }))).toBe(true);
        expect(ok(parseConfig(stringify(value), { env, hostname: 'h' }))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('on values shaped like a config, with random leaves', () => {
    const leaf = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('2xx', '30s', 'model-a', 'thompson', 'discounted_ucb1', '0.0.0.0:1', 'unix:/x'));
    const arm = fc.record({ name: leaf, cluster: leaf, cost: leaf }, { requiredKeys: [] });
    const policy = fc.record({ type: fc.oneof(leaf, fc.constantFrom('thompson', 'static', 'fixed', 'sliding_thompson')), weights: fc.dictionary(fc.string(), leaf), arm: leaf, min_share: leaf, drift: leaf, gamma: leaf }, { requiredKeys: [] });
    const route = fc.record({ name: leaf, arms: fc.array(arm, { maxLength: 4 }), default_arm: leaf, policy, sticky: leaf, reward: leaf, guardrails: leaf, match: leaf }, { requiredKeys: [] });
    const config = fc.record({ routes: fc.array(route, { maxLength: 3 }), listen: leaf, gossip: leaf, admin: leaf, aggregator: leaf, replica_id: leaf }, { requiredKeys: [] });
    fc.assert(
      fc.property(config, (value) => {
        expect(ok(parseConfig(stringify(value), { env, hostname: 'h' }))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
