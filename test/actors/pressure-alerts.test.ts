import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_PRESSURE_ALERT_HOLD_MS, PressureAlerts } from '../../src/actors/pressure-alerts.js';
import type { Pressure } from '../../src/actors/buftee/limits.js';

describe('PressureAlerts', () => {
  it('raises a rise to soft once per hold, repeats within it as warnings, and always raises hard', () => {
    const alerts = new PressureAlerts(60_000);
    expect(alerts.next('ok', 0)).toBe('none');
    expect(alerts.next('soft', 1_000)).toBe('alert');
    expect(alerts.next('soft', 1_100)).toBe('none');
    expect(alerts.next('ok', 3_000)).toBe('cleared');
    // Hovering at the soft level of the budget: back to soft 2 s later is a repeat, not an alert.
    expect(alerts.next('soft', 5_000)).toBe('repeat');
    expect(alerts.next('ok', 6_000)).toBe('cleared');
    expect(alerts.next('soft', 8_000)).toBe('repeat');
    expect(alerts.repeats).toBe(2);
    // Hard is worse news: an alert whatever the hold, and down to soft after it nothing new.
    expect(alerts.next('hard', 9_000)).toBe('alert');
    expect(alerts.next('soft', 9_500)).toBe('none');
    expect(alerts.next('ok', 10_000)).toBe('cleared');
    // The hold counts from the last alert (the hard one at 9 s).
    expect(alerts.next('soft', 68_999)).toBe('repeat');
    expect(alerts.next('ok', 69_000)).toBe('cleared');
    expect(alerts.next('soft', 69_001)).toBe('alert');
    expect(alerts.current).toBe('soft');
  });

  it('with a hold of 0, every rise is an alert', () => {
    const alerts = new PressureAlerts(0);
    for (let t = 0; t < 10; t++) {
      expect(alerts.next('soft', t * 10)).toBe('alert');
      expect(alerts.next('ok', t * 10 + 5)).toBe('cleared');
    }
  });

  it('refuses a hold that is not a finite number of ms up to an hour, and defaults to a minute', () => {
    expect(new PressureAlerts().holdMs).toBe(DEFAULT_PRESSURE_ALERT_HOLD_MS);
    expect(DEFAULT_PRESSURE_ALERT_HOLD_MS).toBe(60_000);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 3_600_001]) expect(() => new PressureAlerts(bad)).toThrow(RangeError);
  });

  it('(property) at most one alert for a rise to soft per hold, none missed after it, every hard rise raised', () => {
    const level = fc.constantFrom<Pressure>('ok', 'soft', 'hard');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5_000 }), fc.array(fc.tuple(level, fc.integer({ min: 0, max: 2_000 })), { maxLength: 200 }), (hold, readings) => {
        const alerts = new PressureAlerts(hold);
        let now = 0;
        let previous: Pressure = 'ok';
        let lastAlert = Number.NEGATIVE_INFINITY;
        for (const [next, dt] of readings) {
          now += dt;
          const change = alerts.next(next, now);
          if (next === previous) expect(change).toBe('none');
          else if (next === 'ok') expect(change).toBe('cleared');
          else if (previous === 'hard') expect(change).toBe('none');
          else if (next === 'hard') expect(change).toBe('alert');
          else expect(change).toBe(now - lastAlert < hold ? 'repeat' : 'alert');
          if (change === 'alert') lastAlert = now;
          previous = next;
        }
      }),
    );
  });
});
