/**
 * Timestamps as Logpush writes them. Events hold unix nanoseconds, as a number (a float64: above
 * 2^53 it keeps about a quarter of a microsecond, which the edge's clocks do not beat anyway) or as
 * a bigint (msgpack's 64-bit integers decoded exactly).
 */

import type { TimestampFormat } from '../job.js';

export const TIMESTAMP_FORMATS: readonly TimestampFormat[] = ['unixnano', 'unix', 'rfc3339'];

const NS_PER_SECOND = 1_000_000_000;
const NS_PER_SECOND_BIG = 1_000_000_000n;
/** The Date range: ±8.64e15 ms from the epoch. */
const MAX_DATE_SECONDS = 8.64e12;

/** Whole seconds since the epoch (floor), or undefined for a value that is no timestamp. */
export function unixSeconds(ns: unknown): number | undefined {
  if (typeof ns === 'number') return Number.isFinite(ns) ? Math.floor(ns / NS_PER_SECOND) : undefined;
  if (typeof ns === 'bigint') {
    // BigInt division truncates toward zero; timestamps before 1970 still floor.
    const q = ns / NS_PER_SECOND_BIG;
    return Number(ns < 0n && q * NS_PER_SECOND_BIG !== ns ? q - 1n : q);
  }
  return undefined;
}

/** Integer nanoseconds as decimal digits (never an exponent), or undefined for a value that is no timestamp. */
export function unixNanoDigits(ns: unknown): string | undefined {
  if (typeof ns === 'bigint') return ns.toString();
  if (typeof ns !== 'number' || !Number.isFinite(ns)) return undefined;
  const whole = Math.trunc(ns);
  // String() switches to an exponent from 1e21 on; BigInt prints every digit.
  return Math.abs(whole) < 1e21 ? String(whole) : BigInt(whole).toString();
}

/**
 * Formats one timestamp field per timestamp_format, as a JSON value: unixnano and unix as numbers,
 * rfc3339 as a string to the second (2024-11-14T10:00:00Z; only unixnano keeps sub-second
 * precision). Returns undefined for a value that is no timestamp or a date outside the Date range.
 * Kept per formatter, not per module: the rfc3339 cache remembers the last second it formatted,
 * which for a job's events, mostly in time order, spares nearly every Date.
 */
export function timestampWriter(format: TimestampFormat): (ns: unknown) => string | number | undefined {
  switch (format) {
    case 'unixnano':
      return (ns) => {
        if (typeof ns === 'number' && Number.isSafeInteger(ns)) return ns;
        return unixNanoDigits(ns);
      };
    case 'unix':
      return unixSeconds;
    case 'rfc3339': {
      let cachedSecond = Number.NaN;
      let cachedText = '';
      return (ns) => {
        const seconds = unixSeconds(ns);
        if (seconds === undefined || Math.abs(seconds) > MAX_DATE_SECONDS) return undefined;
        if (seconds !== cachedSecond) {
          cachedText = rfc3339Seconds(seconds);
          cachedSecond = seconds;
        }
        return cachedText;
      };
    }
  }
}

/** 2024-11-14T10:00:00Z. */
export function rfc3339Seconds(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  // toISOString always writes milliseconds (".000Z"), and six-digit years with a sign for years past 9999.
  return `${iso.slice(0, -5)}Z`;
}

/** 20241114T100000Z: the compact UTC form object keys use (no characters a path or URL would escape). */
export function compactUtc(ns: number): string {
  const seconds = unixSeconds(ns) ?? 0;
  const iso = new Date(clampSeconds(seconds) * 1000).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** 20241114: the UTC date of `ns`, the folder of an object in the store. */
export function utcDate(ns: number): string {
  return compactUtc(ns).slice(0, 8);
}

/**
 * Keys need a four-digit year to sort and to stay one path segment: a timestamp outside years
 * 0000-9999 (only a broken clock makes one) is clamped to the nearest end.
 */
function clampSeconds(seconds: number): number {
  const min = -62_167_219_200; // 0000-01-01T00:00:00Z
  const max = 253_402_300_799; // 9999-12-31T23:59:59Z
  return Math.min(max, Math.max(min, seconds));
}
