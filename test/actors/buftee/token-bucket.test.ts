import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TokenBucket } from '../../../src/actors/buftee/token-bucket.js';
import { nextWanted, resolutionOf, strideOf, wants } from '../../../src/actors/buftee/resolutions.js';

describe('TokenBucket', () => {
  it('passes a burst of `capacity`, then `rate` a second', () => {
    const bucket = new TokenBucket(10, 0);
    let taken = 0;
    while (bucket.tryTake(0)) taken++;
    expect(taken).toBe(10);
    expect(bucket.tryTake(99)).toBe(false);
    expect(bucket.tryTake(100)).toBe(true);
    expect(bucket.available(5000)).toBe(10);
  });

  it('keeps a reserve: tryTake(now, reserve) leaves at least `reserve` tokens', () => {
    const bucket = new TokenBucket(10, 0);
    let taken = 0;
    while (bucket.tryTake(0, 2)) taken++;
    expect(taken).toBe(8);
    expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.used(0)).toBe(9);
  });

  it('never passes more than capacity + rate × elapsed over any run', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.nat(300), { maxLength: 200 }), (rate, gaps) => {
        const bucket = new TokenBucket(rate, 0);
        let now = 0;
        let taken = 0;
        for (const gap of gaps) {
          now += gap;
          if (bucket.tryTake(now)) taken++;
        }
        return taken <= rate + (rate * now) / 1000;
      }),
    );
  });

  it('is always full when unlimited', () => {
    const bucket = new TokenBucket(Infinity, 0);
    for (let i = 0; i < 1000; i++) expect(bucket.tryTake(0, 1e9)).toBe(true);
    expect(bucket.used(0)).toBe(0);
  });
});

describe('resolutions', () => {
  it('parses full and sampled:N into a stride, and back', () => {
    expect(strideOf('full')).toBe(1);
    expect(strideOf('sampled:1')).toBe(1);
    expect(strideOf('sampled:100')).toBe(100);
    expect(resolutionOf(1)).toBe('full');
    expect(resolutionOf(7)).toBe('sampled:7');
  });

  it('nextWanted is the smallest wanted offset at or after the one given', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.integer({ min: 1, max: 50 }), (offset, every) => {
        const next = nextWanted(offset, every);
        expect(next).toBeGreaterThanOrEqual(offset);
        expect(wants(next, every)).toBe(true);
        for (let o = offset; o < next; o++) expect(wants(o, every)).toBe(false);
      }),
    );
  });
});
