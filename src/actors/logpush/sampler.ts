/**
 * output_options.sample_rate. job.ts documents it as N, keeping one event in N (N >= 1), while
 * Cloudflare, and Logfwdr's config schema, write it as the fraction kept (0.1 keeps 10%). Both are
 * accepted, because their ranges meet only at 1, which means "keep all" in both readings: a value
 * in (0, 1) is a fraction f and keeps one event in 1/f, a value >= 1 is N. So 0.1 and 10 are the
 * same setting, and no value can be read two ways.
 *
 * Deterministic, by counting: the sampler keeps event k (0-based, counting the events offered to
 * it) when floor(k / N) moves on, i.e. the first event and then every Nth (N = 2.5 keeps events
 * 0, 3, 5, 8, 10, ...: exactly 2 in 5). Why a counter rather than a random draw: the kept share is
 * exact at every moment, not only on average, so the ledger and the tests can predict it, and a
 * restarted job behaves the same on the same events. The price is aliasing: an input that repeats
 * with a period sharing a factor with N (events arriving round-robin from N zones) keeps the same
 * positions of that cycle every time. Logreceiver coalesces events of many zones per batch, so
 * the positions drift; should aliasing show up in practice, a seeded PRNG fits behind the same
 * Sampler interface.
 *
 * The count is per job and restarts at 0 when the job's sampler is created.
 */

import { configError } from './errors.js';

/** A bound so the counter below stays exact: any larger N keeps practically nothing anyway. */
export const MAX_SAMPLE_RATE = 1e9;

export interface Sampler {
  /** N: one event in N is kept. */
  readonly rate: number;
  /** Whether to keep the next event. */
  keep(): boolean;
}

/**
 * Checks sample_rate from outside and returns it as given; undefined means 1 (keep every event).
 * Accepted: a fraction in [1 / MAX_SAMPLE_RATE, 1], or N in [1, MAX_SAMPLE_RATE].
 */
export function validateSampleRate(input: unknown, path = 'output_options.sample_rate'): number {
  if (input === undefined) return 1;
  if (typeof input !== 'number' || !Number.isFinite(input) || input < 1 / MAX_SAMPLE_RATE || input > MAX_SAMPLE_RATE) {
    throw configError(path, `a fraction of events kept (0.1 keeps 1 in 10) from ${1 / MAX_SAMPLE_RATE} to 1, or N (keep 1 in N) from 1 to ${MAX_SAMPLE_RATE}`, input);
  }
  return input;
}

/** N for a sample_rate: 0.1 and 10 both give 10. */
export function sampleEvery(sampleRate: number | undefined): number {
  const rate = validateSampleRate(sampleRate);
  if (rate >= 1) return rate;
  // 1 / 0.1 is exactly 10, but not every reciprocal comes out whole: snap those within rounding.
  const n = 1 / rate;
  const whole = Math.round(n);
  return Math.abs(n - whole) <= n * Number.EPSILON * 4 ? whole : n;
}

const KEEP_ALL: Sampler = { rate: 1, keep: () => true };

export function createSampler(sampleRate: number | undefined): Sampler {
  const rate = sampleEvery(sampleRate);
  if (rate === 1) return KEEP_ALL;
  if (Number.isInteger(rate)) {
    // Integer N: a counter that wraps, so it never grows.
    let position = 0;
    return {
      rate,
      keep() {
        const kept = position === 0;
        position = position + 1 === rate ? 0 : position + 1;
        return kept;
      },
    };
  }
  // Fractional N: k counts up to 2^53 before losing exactness, about 285 years at a million events a second.
  let k = 0;
  let bucket = -1;
  return {
    rate,
    keep() {
      const current = Math.floor(k / rate);
      k++;
      if (current === bucket) return false;
      bucket = current;
      return true;
    },
  };
}
