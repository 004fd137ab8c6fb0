/**
 * Buftee's seatbelts: every limit finite by default, checked once when Buftee is built. Turning a
 * limit off takes `unsafe: { unlimited: [name] }` and leaves a warning for the shell to log.
 *
 * Levels: a limit is at `soft` from `softLevel` (0.8) of its value and at `hard` at its value.
 * From soft on, new buffers of jobs outside the configured set are refused; at hard, every new
 * buffer is refused and each job's overflow policy decides for its existing buffer.
 */

import { NAME_PATTERN } from '../job.js';
import { BufteeError, nameError, optionsError } from './errors.js';

export const LIMIT_NAMES = [
  'maxBuffers',
  'maxBuffersPerPrefix',
  'maxBytesPerBuffer',
  'maxTotalBytes',
  'maxNewBuffersPerSecond',
  'idleTtlMs',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];
export type Limits = Record<LimitName, number>;

/**
 * Defaults sized for one process on a shared 2-core machine. An idle buffer takes ~315 bytes of
 * heap and a batch 256 bytes beyond its data (test/actors/buftee/memory.test.ts), so 100,000
 * buffers idle are ~32 MB; 256 MiB of batches in all; one job may hold 8 MiB, so 32 jobs at their
 * budget reach the total. 1,000 new buffers a second lets a restart re-create 100,000 buffers in
 * 100 s; a fail-open flood of unconfigured jobs (the incident's 40x) gets at most that rate and
 * never the bucket's last 200 tokens, so configured jobs always find some, and it stops at the
 * soft level of maxBuffers, 80,000 buffers.
 */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxBuffers: 100_000,
  maxBuffersPerPrefix: 50_000,
  maxBytesPerBuffer: 8 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  maxNewBuffersPerSecond: 1_000,
  idleTtlMs: 5 * 60_000,
});

export const DEFAULT_SOFT_LEVEL = 0.8;
export const DEFAULT_MAX_CONSUMERS_PER_BUFFER = 16;

export const OVERFLOW_POLICIES = ['block', 'drop_oldest', 'drop_newest'] as const;
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];

export type Pressure = 'ok' | 'soft' | 'hard';
const RANK: Record<Pressure, number> = { ok: 0, soft: 1, hard: 2 };

export interface BufteeOptions {
  limits?: Partial<Limits>;
  /** Fraction of a limit where new buffers of unconfigured jobs are refused; default 0.8. */
  softLevel?: number;
  maxConsumersPerBuffer?: number;
  /** Overflow policy of a configured job that names none; default `block`. */
  defaultOverflow?: OverflowPolicy;
  /** Overflow policy of jobs outside the configured set; default `drop_newest`. */
  unconfiguredOverflow?: OverflowPolicy;
  /** Milliseconds, non-decreasing; default performance.now. */
  clock?: () => number;
  unsafe?: { unlimited?: readonly LimitName[] };
}

export interface ResolvedOptions {
  readonly limits: Readonly<Limits>;
  readonly softLevel: number;
  readonly maxConsumersPerBuffer: number;
  readonly defaultOverflow: OverflowPolicy;
  readonly unconfiguredOverflow: OverflowPolicy;
  readonly clock: () => number;
  /** One line per limit turned off, for the shell to log at start. */
  readonly warnings: readonly string[];
}

const OPTION_KEYS = [
  'limits',
  'softLevel',
  'maxConsumersPerBuffer',
  'defaultOverflow',
  'unconfiguredOverflow',
  'clock',
  'unsafe',
] as const;

/** Checks options from a caller or a config file; throws ERR_BUFTEE_OPTIONS naming the path and value. */
export function resolveOptions(options: BufteeOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw optionsError('(options)', 'an object', options);
  checkKeys('', options, OPTION_KEYS);
  const unlimited = resolveUnlimited(options.unsafe);
  const given = options.limits ?? {};
  if (typeof given !== 'object' || given === null) throw optionsError('limits', 'an object', given);
  checkKeys('limits.', given, LIMIT_NAMES);
  const limits = { ...DEFAULT_LIMITS };
  const warnings: string[] = [];
  for (const name of LIMIT_NAMES) {
    const value = given[name];
    if (unlimited.has(name)) {
      if (value !== undefined) {
        throw new BufteeError(
          'ERR_BUFTEE_OPTIONS',
          `buftee options: limits.${name} is ${value} and unsafe.unlimited lists it; give one or the other`,
        );
      }
      limits[name] = Infinity;
      warnings.push(`buftee: limit ${name} is OFF (unsafe.unlimited); nothing bounds it`);
      continue;
    }
    if (value === undefined) continue;
    if (!(Number.isSafeInteger(value) && value > 0)) {
      const hint = value === Infinity ? ` (to turn it off, list it in unsafe.unlimited)` : '';
      throw optionsError(`limits.${name}`, `a positive integer${hint}`, value);
    }
    limits[name] = value;
  }
  const softLevel = options.softLevel ?? DEFAULT_SOFT_LEVEL;
  if (!(typeof softLevel === 'number' && softLevel > 0 && softLevel <= 1)) {
    throw optionsError('softLevel', 'a number above 0 and at most 1', softLevel);
  }
  const maxConsumersPerBuffer = options.maxConsumersPerBuffer ?? DEFAULT_MAX_CONSUMERS_PER_BUFFER;
  if (!(Number.isSafeInteger(maxConsumersPerBuffer) && maxConsumersPerBuffer > 0 && maxConsumersPerBuffer <= 1024)) {
    throw optionsError('maxConsumersPerBuffer', 'an integer from 1 to 1024', maxConsumersPerBuffer);
  }
  const clock = options.clock ?? (() => performance.now());
  if (typeof clock !== 'function') throw optionsError('clock', 'a function returning milliseconds', clock);
  return {
    limits: Object.freeze(limits),
    softLevel,
    maxConsumersPerBuffer,
    defaultOverflow: checkPolicy('defaultOverflow', options.defaultOverflow ?? 'block'),
    unconfiguredOverflow: checkPolicy('unconfiguredOverflow', options.unconfiguredOverflow ?? 'drop_newest'),
    clock,
    warnings,
  };
}

export function checkPolicy(path: string, policy: unknown): OverflowPolicy {
  if (!OVERFLOW_POLICIES.includes(policy as OverflowPolicy)) {
    throw optionsError(path, `one of ${OVERFLOW_POLICIES.join(' | ')}`, policy);
  }
  return policy as OverflowPolicy;
}

/** Throws ERR_BUFTEE_NAME unless `name` fits NAME_PATTERN (job ids, prefixes, consumers). */
export function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) throw nameError(what, name);
  return name;
}

/** `hard` at the limit, `soft` from softLevel of it, else `ok`; an unlimited limit is always `ok`. */
export function level(used: number, limit: number, softLevel: number): Pressure {
  if (used >= limit) return 'hard';
  if (used >= limit * softLevel) return 'soft';
  return 'ok';
}

export function worst(a: Pressure, b: Pressure): Pressure {
  return RANK[a] >= RANK[b] ? a : b;
}

function resolveUnlimited(unsafe: BufteeOptions['unsafe']): Set<LimitName> {
  if (unsafe === undefined) return new Set();
  if (typeof unsafe !== 'object' || unsafe === null) throw optionsError('unsafe', 'an object', unsafe);
  checkKeys('unsafe.', unsafe, ['unlimited']);
  const list = unsafe.unlimited ?? [];
  if (!Array.isArray(list)) throw optionsError('unsafe.unlimited', 'an array of limit names', list);
  list.forEach((name: unknown, i) => {
    if (!LIMIT_NAMES.includes(name as LimitName)) {
      throw optionsError(`unsafe.unlimited[${i}]`, `one of ${LIMIT_NAMES.join(' | ')}`, name);
    }
  });
  return new Set(list);
}

function checkKeys(path: string, object: object, known: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw new BufteeError(
        'ERR_BUFTEE_OPTIONS',
        `buftee options: ${path}${key} is not a known option; known: ${known.join(', ')}`,
      );
    }
  }
}
