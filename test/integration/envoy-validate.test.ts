import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { findEnvoyBinary } from '../../src/util/envoy-binary.js';
import { ENVOY_ACCESSLOG_CONFIG, ENVOY_CONFIG, renderEnvoyConfig } from '../support/envoy.js';

describe('envoy/envoy.yaml', () => {
  it('passes `envoy --mode validate` as shipped', () => {
    const r = spawnSync(findEnvoyBinary(), ['--mode', 'validate', '-c', ENVOY_CONFIG, '-l', 'warning', '--disable-hot-restart'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stdout + r.stderr).toContain('OK');
    expect(r.status).toBe(0);
  });

  it('still validates after the test rewrite (ports, unix ext_proc)', () => {
    const { path } = renderEnvoyConfig({
      listenerPort: 0,
      adminPort: 0,
      extProc: { unixPath: '/tmp/envoy-bandit-test.sock' },
      clusters: { model_a: 18001, model_b: 18002, model_c: 18003 },
    });
    const r = spawnSync(findEnvoyBinary(), ['--mode', 'validate', '-c', path, '-l', 'warning', '--disable-hot-restart'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
  });

  it('rejects a cluster name the file does not have', () => {
    expect(() => renderEnvoyConfig({ extProc: { host: '127.0.0.1', port: 1 }, clusters: { model_z: 1 } })).toThrow(/model_z/);
  });
});

describe('envoy/envoy-accesslog.yaml', () => {
  it('passes `envoy --mode validate` as shipped', () => {
    const r = spawnSync(findEnvoyBinary(), ['--mode', 'validate', '-c', ENVOY_ACCESSLOG_CONFIG, '-l', 'warning', '--disable-hot-restart'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stdout + r.stderr).toContain('OK');
    expect(r.status).toBe(0);
  });
});
