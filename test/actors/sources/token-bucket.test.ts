import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TokenBucket } from '../../../src/actors/sources/token-bucket.js';
import { SourceError } from '../../../src/actors/sources/errors.js';

describe('TokenBucket', () => {
  it('starts empty and accrues ratePerSecond tokens per second', () => {
    const bucket = new TokenBucket({ ratePerSecond: 1000, burst: 500 }, 0);
    expect(bucket.take(10, 0)).toBe(0);
    expect(bucket.available(100)).toBe(100);
    expect(bucket.take(30, 100)).toBe(30);
    expect(bucket.take(1000, 100)).toBe(70);
    expect(bucket.take(1, 100)).toBe(0);
  });

  it('holds at most burst tokens after an idle spell; startFull starts there', () => {
    const bucket = new TokenBucket({ ratePerSecond: 1000, burst: 250 }, 0);
    expect(bucket.available(60_000)).toBe(250);
    const full = new TokenBucket({ ratePerSecond: 1000, burst: 250, startFull: true }, 0);
    expect(full.take(1000, 0)).toBe(250);
  });

  it('defaults burst to 100 ms of tokens, at least 1', () => {
    expect(new TokenBucket({ ratePerSecond: 400_000 }, 0).burst).toBe(40_000);
    expect(new TokenBucket({ ratePerSecond: 2 }, 0).burst).toBe(1);
  });

  it('never grants more than rate x time + burst over any run (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 100_000 })), { maxLength: 60 }),
        (rate, steps) => {
          const burst = Math.max(1, rate / 10);
          const bucket = new TokenBucket({ ratePerSecond: rate }, 0);
          let now = 0;
          let granted = 0;
          for (const [advance, wanted] of steps) {
            now += advance;
            const got = bucket.take(wanted, now);
            expect(got).toBeGreaterThanOrEqual(0);
            expect(got).toBeLessThanOrEqual(wanted);
            granted += got;
          }
          expect(granted).toBeLessThanOrEqual((rate * now) / 1000 + burst);
        },
      ),
    );
  });

  it('says how long until tokens are there: 0 now, Infinity past the burst or at rate 0', () => {
    const bucket = new TokenBucket({ ratePerSecond: 100, burst: 50 }, 0);
    expect(bucket.msUntil(10, 0)).toBe(100);
    expect(bucket.msUntil(10, 100)).toBe(0);
    expect(bucket.msUntil(51, 100)).toBe(Infinity);
    bucket.setRate(0, 100);
    bucket.take(10, 100);
    expect(bucket.msUntil(1, 10_000)).toBe(Infinity);
  });

  it('adds nothing when the clock steps back, and keeps earned tokens across setRate up to the new burst', () => {
    const bucket = new TokenBucket({ ratePerSecond: 1000, burst: 1000 }, 1000);
    expect(bucket.available(1500)).toBe(500);
    expect(bucket.available(1200)).toBe(500);
    bucket.setRate(10, 1500, 100);
    expect(bucket.available(1500)).toBe(100);
    expect(bucket.available(2500)).toBe(100);
  });

  it('refuses bad rates, bursts, times and counts, naming them', () => {
    expect(() => new TokenBucket({ ratePerSecond: -1 }, 0)).toThrow(/ratePerSecond must be a finite number >= 0, got -1/);
    expect(() => new TokenBucket({ ratePerSecond: Infinity }, 0)).toThrow(SourceError);
    expect(() => new TokenBucket({ ratePerSecond: 10, burst: 0.5 }, 0)).toThrow(/burst/);
    expect(() => new TokenBucket({ ratePerSecond: 10 }, Number.NaN)).toThrow(/nowMs/);
    expect(() => new TokenBucket({ ratePerSecond: 10 }, 0).take(1.5, 0)).toThrow(/take\(wanted\)/);
  });
});
