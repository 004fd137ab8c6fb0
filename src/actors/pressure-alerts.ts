/**
 * When a change of Buftee's pressure is an alert. Buftee hovering at the soft level of its byte
 * budget (a saturated pipeline: its budget is what holds the rate) crosses it both ways every few
 * seconds; raising `buftee_pressure` at each crossing made ~8 alert lines a 20-s bench run for one
 * condition. So a rise to `soft` within `holdMs` of the last alert is a repeat (a warning line,
 * counted), not a new alert; a rise to `hard` is always an alert. Pure: the time is passed in.
 */

import type { Pressure } from './buftee/limits.js';

export type PressureChange = 'none' | 'alert' | 'repeat' | 'cleared';

/** An alert for a rise to soft pressure at most once a minute by default. */
export const DEFAULT_PRESSURE_ALERT_HOLD_MS = 60_000;
const MAX_PRESSURE_ALERT_HOLD_MS = 3_600_000;

export class PressureAlerts {
  private level: Pressure = 'ok';
  private alertAt = Number.NEGATIVE_INFINITY;
  /** Rises to soft within the hold after an alert: logged as warnings, not raised. */
  repeats = 0;

  constructor(readonly holdMs: number = DEFAULT_PRESSURE_ALERT_HOLD_MS) {
    if (!(Number.isFinite(holdMs) && holdMs >= 0 && holdMs <= MAX_PRESSURE_ALERT_HOLD_MS)) {
      throw new RangeError(`pipeline: pressureAlertHoldMs must be a number of ms from 0 to ${MAX_PRESSURE_ALERT_HOLD_MS}, got ${String(holdMs)}`);
    }
  }

  /** The level the last reading had. */
  get current(): Pressure {
    return this.level;
  }

  /** What a reading of `level` at `now` (ms, any monotonic clock) is. */
  next(level: Pressure, now: number): PressureChange {
    const previous = this.level;
    if (level === previous) return 'none';
    this.level = level;
    if (level === 'ok') return 'cleared';
    // Down from hard to soft: still under pressure, nothing new.
    if (previous === 'hard') return 'none';
    if (level === 'soft' && now - this.alertAt < this.holdMs) {
      this.repeats++;
      return 'repeat';
    }
    this.alertAt = now;
    return 'alert';
  }
}
