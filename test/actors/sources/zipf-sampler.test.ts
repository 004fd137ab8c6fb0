import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ZipfSampler } from '../../../src/actors/sources/zipf-sampler.js';
import { Random } from '../../../src/actors/sources/prng.js';
import { SourceError } from '../../../src/actors/sources/errors.js';

/** The distribution the alias table actually samples: column c (chance 1/n) keeps c or gives its alias. */
function impliedProbabilities(sampler: ZipfSampler): Float64Array {
  const table = (sampler as unknown as { table: Uint32Array }).table;
  const n = sampler.n;
  const p = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const keep = table[2 * c]! / 4294967296;
    p[c] = p[c]! + keep / n;
    const alias = table[2 * c + 1]!;
    p[alias] = p[alias]! + (1 - keep) / n;
  }
  return p;
}

function harmonic(n: number, s: number): number {
  let h = 0;
  for (let k = n; k >= 1; k--) h += Math.pow(k, -s);
  return h;
}

describe('ZipfSampler', () => {
  it('has P(rank k) = k^-s / H(n, s), decreasing, summing to 1', () => {
    const sampler = new ZipfSampler(40_000, 1.1);
    const h = harmonic(40_000, 1.1);
    expect(sampler.probability(0)).toBeCloseTo(1 / h, 12);
    expect(sampler.probability(9)).toBeCloseTo(Math.pow(10, -1.1) / h, 12);
    let sum = 0;
    let increases = 0;
    for (let k = 0; k < 40_000; k++) {
      sum += sampler.probability(k);
      if (k > 0 && sampler.probability(k) > sampler.probability(k - 1)) increases++;
    }
    expect(increases).toBe(0);
    expect(sum).toBeCloseTo(1, 12);
    expect(sampler.probability(-1)).toBe(0);
    expect(sampler.probability(40_000)).toBe(0);
  });

  it('builds an alias table that samples exactly the Zipf distribution (to 32-bit thresholds)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.double({ min: 0, max: 3, noNaN: true }), (n, s) => {
        const sampler = new ZipfSampler(n, s);
        const implied = impliedProbabilities(sampler);
        let worst = 0;
        for (let k = 0; k < n; k++) worst = Math.max(worst, Math.abs(implied[k]! - sampler.probability(k)));
        expect(worst).toBeLessThan(1e-9);
      }),
      { numRuns: 60 },
    );
  });

  it('gives the top zone of 40,000 its expected share, and passes a chi-square test on the head', () => {
    const sampler = new ZipfSampler(40_000, 1.1);
    const random = new Random(2024);
    const draws = 400_000;
    const head = 30;
    const counts = new Float64Array(head + 1);
    let outOfRange = 0;
    for (let i = 0; i < draws; i++) {
      const rank = sampler.sample(random);
      if (!(rank >= 0 && rank < 40_000)) outOfRange++;
      const bin = Math.min(rank, head);
      counts[bin] = counts[bin]! + 1;
    }
    expect(outOfRange).toBe(0);
    const p0 = sampler.probability(0);
    const sd = Math.sqrt((p0 * (1 - p0)) / draws);
    expect(Math.abs(counts[0]! / draws - p0)).toBeLessThan(5 * sd);
    // Bins: ranks 0..29 one each, then the whole tail. 30 degrees of freedom: P(chi2 > 70) < 1e-4.
    let tail = 1;
    let chi2 = 0;
    for (let k = 0; k < head; k++) {
      const expected = sampler.probability(k) * draws;
      tail -= sampler.probability(k);
      chi2 += (counts[k]! - expected) ** 2 / expected;
    }
    chi2 += (counts[head]! - tail * draws) ** 2 / (tail * draws);
    expect(chi2).toBeLessThan(70);
  });

  it('takes exactly two draws per sample, so a stream stays reproducible', () => {
    const sampler = new ZipfSampler(100, 1.1);
    const a = new Random(5);
    const b = new Random(5);
    sampler.sample(a);
    b.nextU32();
    b.nextU32();
    expect(a.nextU32()).toBe(b.nextU32());
  });

  it('refuses sizes and exponents out of range, naming them', () => {
    expect(() => new ZipfSampler(0, 1.1)).toThrow(SourceError);
    expect(() => new ZipfSampler(1.5, 1.1)).toThrow(/n must be an integer/);
    expect(() => new ZipfSampler(10, -1)).toThrow(/exponent must be a number from 0 to 10, got -1/);
    expect(() => new ZipfSampler(10, Number.NaN)).toThrow(/exponent/);
  });

  it('with exponent 0 is uniform', () => {
    const sampler = new ZipfSampler(8, 0);
    for (let k = 0; k < 8; k++) expect(sampler.probability(k)).toBeCloseTo(1 / 8, 15);
  });
});
