import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addRestart } from '../../src/runtime/restart-intensity.js';

/** Feeds restart times one by one, as a supervisor would, returning each decision. */
function run(times: readonly number[], intensity: number, periodMs: number): boolean[] {
  let restarts: number[] = [];
  return times.map((now) => {
    const result = addRestart(restarts, now, intensity, periodMs);
    restarts = result.restarts;
    return result.exceeded;
  });
}

/** The definition, with no memory bound: count every restart ever made within the trailing period. */
function reference(times: readonly number[], intensity: number, periodMs: number): boolean[] {
  return times.map((now, i) => times.slice(0, i + 1).filter((t) => t >= now - periodMs).length > intensity);
}

/** Non-decreasing restart times from gaps, as a monotonic clock gives them. */
const restartTimes = (maxGap: number) =>
  fc
    .array(fc.oneof(fc.integer({ min: 0, max: maxGap }), fc.constant(0)), { maxLength: 60 })
    .map((gaps) => gaps.reduce<number[]>((acc, gap) => [...acc, (acc.at(-1) ?? 0) + gap], []));

describe('addRestart', () => {
  it('allows `intensity` restarts within the period and refuses the next', () => {
    expect(run([0, 100, 200], 3, 5000)).toEqual([false, false, false]);
    expect(run([0, 100, 200, 300], 3, 5000)).toEqual([false, false, false, true]);
  });

  it('gives up on the first restart when intensity is 0', () => {
    expect(addRestart([], 1000, 0, 5000)).toEqual({ restarts: [1000], exceeded: true });
  });

  it('counts a restart exactly periodMs ago as within the period, as OTP does', () => {
    expect(addRestart([0], 5000, 1, 5000)).toEqual({ restarts: [0, 5000], exceeded: true });
    expect(addRestart([0], 5001, 1, 5000)).toEqual({ restarts: [5001], exceeded: false });
  });

  it('never gives up on restarts spaced more than the period apart', () => {
    const times = Array.from({ length: 1000 }, (_, i) => i * 5001);
    expect(run(times, 1, 5000).some(Boolean)).toBe(false);
    expect(run(times, 1, 5000)).toEqual(reference(times, 1, 5000));
  });

  it('forgets a burst once it falls out of the window', () => {
    expect(run([0, 10, 20, 6000, 6010, 6020], 3, 5000)).toEqual([false, false, false, false, false, false]);
  });

  it('does not mutate the list it is given', () => {
    const before = Object.freeze([1, 2, 3]);
    const result = addRestart(before, 10_000, 3, 5000);
    expect(before).toEqual([1, 2, 3]);
    expect(result.restarts).toEqual([10_000]);
  });

  it('trims an oversized list handed in to the newest intensity + 1', () => {
    const long = Array.from({ length: 50 }, (_, i) => i);
    expect(addRestart(long, 50, 3, 5000)).toEqual({ restarts: [47, 48, 49, 50], exceeded: true });
  });

  it('decides as the unbounded reference does, for any restart times (property)', () => {
    fc.assert(
      fc.property(restartTimes(3000), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 10_000 }), (times, intensity, periodMs) => {
        expect(run(times, intensity, periodMs)).toEqual(reference(times, intensity, periodMs));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps at most intensity + 1 times, all within the period and in order (property)', () => {
    fc.assert(
      fc.property(restartTimes(3000), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 10_000 }), (times, intensity, periodMs) => {
        let restarts: number[] = [];
        for (const now of times) {
          ({ restarts } = addRestart(restarts, now, intensity, periodMs));
          expect(restarts.length).toBeLessThanOrEqual(intensity + 1);
          expect(restarts.at(-1)).toBe(now);
          expect(restarts.every((t, i) => t >= now - periodMs && (i === 0 || t >= (restarts[i - 1] ?? t)))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
