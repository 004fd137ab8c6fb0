import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_SAMPLE_RATE, createSampler, sampleEvery, validateSampleRate } from '../../../src/actors/logpush/sampler.js';

const keptIndexes = (rate: number, count: number): number[] => {
  const sampler = createSampler(rate);
  const kept: number[] = [];
  for (let i = 0; i < count; i++) if (sampler.keep()) kept.push(i);
  return kept;
};

describe('createSampler', () => {
  it('keeps every event at sample_rate 1 or undefined', () => {
    expect(keptIndexes(1, 50)).toHaveLength(50);
    const sampler = createSampler(undefined);
    expect(sampler.rate).toBe(1);
    expect(Array.from({ length: 10 }, () => sampler.keep()).every(Boolean)).toBe(true);
  });

  it('keeps the first event and then every Nth', () => {
    expect(keptIndexes(10, 35)).toEqual([0, 10, 20, 30]);
    expect(keptIndexes(2, 7)).toEqual([0, 2, 4, 6]);
  });

  it('keeps exactly 1 in N on average for a fractional N', () => {
    expect(keptIndexes(2.5, 11)).toEqual([0, 3, 5, 8, 10]);
  });

  it('keeps ceil(count / N) of any count, at every moment (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1, max: 50 }), fc.double({ min: 1, max: 50, noNaN: true })), fc.nat(2000), (rate, count) => {
        const kept = keptIndexes(rate, count).length;
        // floor(k / N) takes ceil(count / N) values for k in [0, count); float rounding may move one boundary.
        expect(Math.abs(kept - Math.ceil(count / rate))).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('is deterministic: two samplers of one rate keep the same events', () => {
    expect(keptIndexes(7, 1000)).toEqual(keptIndexes(7, 1000));
    expect(keptIndexes(3.7, 1000)).toEqual(keptIndexes(3.7, 1000));
  });
});

describe('validateSampleRate and sampleEvery', () => {
  it("reads Cloudflare's fraction and job.ts's N alike: 0.1 and 10 keep 1 in 10", () => {
    expect(sampleEvery(0.1)).toBe(10);
    expect(sampleEvery(10)).toBe(10);
    expect(sampleEvery(0.25)).toBe(4);
    expect(sampleEvery(1)).toBe(1);
    expect(sampleEvery(undefined)).toBe(1);
    expect(sampleEvery(0.4)).toBe(2.5);
    expect(keptIndexes(0.1, 35)).toEqual(keptIndexes(10, 35));
    expect(createSampler(0.2).rate).toBe(5);
  });

  it('refuses what is neither, naming the path', () => {
    for (const bad of [0, -1, 1e-12, Number.NaN, Infinity, MAX_SAMPLE_RATE * 10, '10', null]) {
      expect(() => validateSampleRate(bad)).toThrow(expect.objectContaining({ code: 'ERR_LOGPUSH_CONFIG', path: 'output_options.sample_rate' }));
    }
    expect(() => validateSampleRate(0)).toThrow(/a fraction of events kept .* or N \(keep 1 in N\)/);
    expect(validateSampleRate(0.1)).toBe(0.1);
    expect(validateSampleRate(100)).toBe(100);
  });
});
