/**
 * Zipf-distributed ranks in O(1) per sample: Vose's alias method over P(rank k) = k^-s / H(n, s),
 * k = 1..n, returned 0-based (0 is the most frequent).
 *
 * Why an alias table and not a CDF with binary search: at 40,000 zones a search takes 16
 * dependent, unpredictable loads per sample; the alias table takes two draws and one load. Each
 * column is one 8-byte pair (keep threshold, alias) in a single Uint32Array, so a sample touches
 * one cache line: the table (320 KB at 40,000 zones) does not stay in cache beside a batch being
 * written, and split arrays of keep and alias cost two misses per sample.
 */

import { optionError } from './errors.js';
import type { Random } from './prng.js';

/** 4,194,304 ranks: 64 MiB of tables while building, 32 MiB kept. A larger synthetic edge is a configuration mistake. */
export const MAX_ZIPF_RANKS = 1 << 22;

export class ZipfSampler {
  readonly n: number;
  readonly exponent: number;
  /** Probability of each rank, 0-based. */
  private readonly weights: Float64Array;
  /**
   * Column i is pair [2i, 2i + 1]: keep column i when a uniform u32 is below [2i] (its chance of
   * keeping, times 2^32), else take rank [2i + 1]. A column kept whole has itself as alias.
   */
  private readonly table: Uint32Array;

  constructor(n: number, exponent: number) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_ZIPF_RANKS) optionFail('n', `an integer from 1 to ${MAX_ZIPF_RANKS}`, n);
    if (!(typeof exponent === 'number' && Number.isFinite(exponent) && exponent >= 0 && exponent <= 10)) {
      optionFail('exponent', 'a number from 0 to 10', exponent);
    }
    this.n = n;
    this.exponent = exponent;
    const weights = new Float64Array(n);
    let total = 0;
    // Summed smallest first, so the large head does not swallow the tail's rounding.
    for (let k = n; k >= 1; k--) {
      const w = Math.pow(k, -exponent);
      weights[k - 1] = w;
      total += w;
    }
    for (let i = 0; i < n; i++) weights[i] = weights[i]! / total;
    this.weights = weights;
    this.table = buildAlias(weights);
  }

  /** P(rank), 0-based; 0 outside 0..n-1. */
  probability(rank: number): number {
    return this.weights[rank] ?? 0;
  }

  /** A rank, 0-based. Takes exactly two draws from `random`, so a stream stays reproducible. */
  sample(random: Random): number {
    const at = random.below(this.n) << 1;
    const table = this.table;
    return random.nextU32() < table[at]! ? at >>> 1 : table[at + 1]!;
  }
}

/** Vose's alias method, into the interleaved table described at `table`. */
function buildAlias(p: Float64Array): Uint32Array {
  const n = p.length;
  const table = new Uint32Array(2 * n);
  const scaled = new Float64Array(n);
  const small = new Uint32Array(n);
  const large = new Uint32Array(n);
  let smallCount = 0;
  let largeCount = 0;
  for (let i = 0; i < n; i++) {
    const v = p[i]! * n;
    scaled[i] = v;
    if (v < 1) small[smallCount++] = i;
    else large[largeCount++] = i;
  }
  while (smallCount > 0 && largeCount > 0) {
    const s = small[--smallCount]!;
    const l = large[--largeCount]!;
    table[2 * s] = Math.floor(scaled[s]! * 4294967296);
    table[2 * s + 1] = l;
    const rest = scaled[l]! + scaled[s]! - 1;
    scaled[l] = rest;
    if (rest < 1) small[smallCount++] = l;
    else large[largeCount++] = l;
  }
  // What remains is 1 up to rounding: kept whole (threshold aside, the alias is the column itself).
  while (largeCount > 0) keepWhole(table, large[--largeCount]!);
  while (smallCount > 0) keepWhole(table, small[--smallCount]!);
  return table;
}

function keepWhole(table: Uint32Array, i: number): void {
  table[2 * i] = 0xffffffff;
  table[2 * i + 1] = i;
}

function optionFail(path: string, expected: string, got: unknown): never {
  throw optionError('zipf sampler', path, expected, got);
}
