/**
 * The `ctl status` table: what an operator reads. Drift forms (half_life, the
 * fleet form the shipped configs use) fade evidence, so sample counts are
 * fractional; the table shows them as counts, not as raw floats.
 */
import { describe, expect, it } from 'vitest';
import { buildView, formatSamples, renderStatus, type FleetReply, type RoutesReply } from '../../../src/tools/ctl/status.js';

describe('ctl status table', () => {
  it('formats sample counts: whole numbers from 10 up, one decimal below, integers as they are', () => {
    expect(formatSamples(0)).toBe('0');
    expect(formatSamples(7)).toBe('7');
    expect(formatSamples(0.4)).toBe('0.4');
    expect(formatSamples(7.614022879012134)).toBe('7.6');
    expect(formatSamples(2356.4999)).toBe('2356');
    expect(formatSamples(9.96)).toBe('10.0');
  });

  it('shows faded (fractional) samples in the arm and replica tables without long floats', () => {
    const routes: RoutesReply = {
      replica: 'r1',
      time: 0,
      routes: [
        {
          name: 'chat',
          mode: 'active',
          default_arm: 'model-a',
          policy: { type: 'thompson' },
          arms: [
            { name: 'model-a', state: 'active', share: 0.264, mean: 0.104, samples: 7.614022879012134, quarantine: null },
            { name: 'model-b', state: 'active', share: 0.736, mean: 0.256, samples: 1234.5678, quarantine: null },
          ],
        },
      ],
    };
    const fleet: FleetReply = {
      replica: 'r1',
      time: 0,
      slots: [{ replica: 'r1', self: true, version: 42, updated_at: 0, staleness_ms: 0, samples: { chat: { 'model-a': 7.614022879012134, 'model-b': 1234.5678 } } }],
    };
    const text = renderStatus(buildView('http://127.0.0.1:9464', routes, fleet, [{ admin: 'http://127.0.0.1:9464', routes, error: null }])).join('\n');
    expect(text).toMatch(/^ {2}model-a +active +26\.4% +0\.104 +7\.6 +r1$/m);
    expect(text).toMatch(/^ {2}model-b +active +73\.6% +0\.256 +1235 +r1$/m);
    expect(text).toMatch(/^ {2}REPLICA +SAMPLES +LAST CHANGE SEEN$/m);
    expect(text).toMatch(/^ {2}r1 \(this\) +1242 +now$/m);
    expect(text).not.toMatch(/\d\.\d{4,}/);
  });
});
