import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RestartBackoff, backoffBase, backoffDelay } from '../../src/runtime/backoff.js';
import type { BackoffOptions } from '../../src/runtime/child-spec.js';

const defaults: BackoffOptions = { minMs: 10, maxMs: 2000, jitter: 0.2 };
const noJitter = (): number => 0.5;

const options = fc
  .record({
    a: fc.double({ min: 0, max: 1e7, noNaN: true }),
    b: fc.double({ min: 0, max: 1e7, noNaN: true }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ a, b, jitter }): BackoffOptions => ({ minMs: Math.min(a, b), maxMs: Math.max(a, b), jitter }));
const attempt = fc.oneof(fc.nat(64), fc.nat(), fc.constantFrom(1023, 1024, 1075, 5000, Number.MAX_SAFE_INTEGER));
// Math.random's range: 0 inclusive, 1 exclusive.
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('backoffDelay', () => {
  it('doubles from minMs per consecutive restart and stops at maxMs', () => {
    const delays = Array.from({ length: 10 }, (_, i) => backoffDelay(i, defaults, noJitter));
    expect(delays).toEqual([10, 20, 40, 80, 160, 320, 640, 1280, 2000, 2000]);
  });

  it('spreads the delay by up to +/- jitter of itself', () => {
    expect(backoffDelay(2, defaults, () => 0)).toBeCloseTo(32, 10);
    expect(backoffDelay(2, defaults, () => 0.999999)).toBeCloseTo(48, 3);
    expect(backoffDelay(20, defaults, () => 0.999999)).toBeLessThanOrEqual(2400);
  });

  it('stays a number for minMs 0 and huge attempts', () => {
    expect(backoffDelay(5000, { minMs: 0, maxMs: 100, jitter: 0.5 }, () => 0.9)).toBe(0);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, defaults, noJitter)).toBe(2000);
    expect(backoffDelay(Infinity, defaults, noJitter)).toBe(2000);
  });

  it('treats a negative or NaN attempt as the first, and a broken random source as no jitter', () => {
    expect(backoffDelay(-3, defaults, noJitter)).toBe(10);
    expect(backoffDelay(NaN, defaults, noJitter)).toBe(10);
    expect(backoffDelay(0, defaults, () => NaN)).toBe(10);
    expect(backoffDelay(0, defaults, () => 7)).toBe(10);
  });

  it('is finite and within [0, maxMs * (1 + jitter)] and jitter of its base (property)', () => {
    fc.assert(
      fc.property(attempt, options, unit, (n, opts, r) => {
        const delay = backoffDelay(n, opts, () => r);
        const base = backoffBase(n, opts);
        expect(Number.isFinite(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(opts.maxMs * (1 + opts.jitter));
        expect(delay).toBeGreaterThanOrEqual(base * (1 - opts.jitter) * (1 - 1e-12));
        expect(delay).toBeLessThanOrEqual(base * (1 + opts.jitter) * (1 + 1e-12));
      }),
      { numRuns: 1000 },
    );
  });

  it('before jitter, is non-decreasing in the attempt, at least minMs and capped at maxMs (property)', () => {
    fc.assert(
      fc.property(attempt, options, (n, opts) => {
        const base = backoffBase(n, opts);
        expect(backoffBase(n + 1, opts)).toBeGreaterThanOrEqual(base);
        expect(base).toBeGreaterThanOrEqual(opts.minMs);
        expect(base).toBeLessThanOrEqual(opts.maxMs);
        expect(backoffDelay(n, opts, noJitter)).toBe(base);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('RestartBackoff', () => {
  const exact = { ...defaults, jitter: 0, stableMs: 10_000 };

  it('waits longer after each crash that follows a short run', () => {
    const backoff = new RestartBackoff(exact);
    const delays: number[] = [];
    let now = 0;
    for (let i = 0; i < 4; i++) {
      backoff.started(now);
      now += 50;
      delays.push(backoff.nextDelay(now));
    }
    expect(delays).toEqual([10, 20, 40, 80]);
    expect(backoff.consecutive).toBe(4);
  });

  it('starts over from minMs after a run of stableMs, and not a millisecond before', () => {
    const backoff = new RestartBackoff(exact);
    backoff.started(0);
    backoff.nextDelay(1);
    backoff.started(11);
    expect(backoff.nextDelay(12)).toBe(20);
    backoff.started(100);
    expect(backoff.nextDelay(100 + 9_999)).toBe(40);
    backoff.started(20_000);
    expect(backoff.nextDelay(30_000)).toBe(10);
    expect(backoff.consecutive).toBe(1);
  });

  it('does not count time spent waiting to restart as a stable run', () => {
    const backoff = new RestartBackoff(exact);
    backoff.started(0);
    expect(backoff.nextDelay(5)).toBe(10);
    // A second failure report before the child was started again (e.g. a stop timing out).
    expect(backoff.nextDelay(50_000)).toBe(20);
  });

  it('forgets past failures on reset', () => {
    const backoff = new RestartBackoff(exact);
    backoff.nextDelay(0);
    backoff.nextDelay(1);
    backoff.reset();
    expect(backoff.consecutive).toBe(0);
    expect(backoff.nextDelay(2)).toBe(10);
  });

  it('passes its random source to the jitter', () => {
    const backoff = new RestartBackoff({ ...defaults, stableMs: 1000 }, () => 0);
    expect(backoff.nextDelay(0)).toBeCloseTo(8, 10);
  });

  it('waits backoffBase(k) where k counts the short runs since the last stable one (property)', () => {
    const runs = fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 40 });
    fc.assert(
      fc.property(runs, fc.integer({ min: 0, max: 15_000 }), (lengths, stableMs) => {
        const backoff = new RestartBackoff({ ...exact, stableMs });
        let now = 0;
        let k = 0;
        for (const length of lengths) {
          backoff.started(now);
          now += length;
          k = length >= stableMs ? 0 : k;
          expect(backoff.nextDelay(now)).toBe(backoffBase(k, exact));
          k++;
          now += 1;
        }
      }),
    );
  });
});
