/**
 * When an HTTP destination retries a put, as a pure function of the attempt's outcome: no network,
 * no timers, the random source and the clock passed in.
 *
 * - 2xx: acknowledged.
 * - A network error, a timeout, 5xx or 429: retried after an exponential backoff with full jitter
 *   (a delay drawn uniformly from [0, min(maxMs, baseMs * 2^retry)]: AWS's "full jitter", which
 *   spreads the jobs that failed together over the whole window instead of bunching them at its
 *   edge), or after the response's Retry-After when it has one, capped at maxRetryAfterMs so one
 *   header cannot park a job for a day.
 * - Any other status (4xx, and 1xx/3xx, which undici does not follow): permanent, never retried;
 *   the same bytes would get the same answer.
 * - After maxAttempts attempts in all, it gives up; the object stays buffered and may be put again.
 */

import { configError } from '../errors.js';

export interface RetryPolicy {
  /** The backoff window of the first retry. */
  readonly baseMs: number;
  /** The largest backoff window. */
  readonly maxMs: number;
  /** Attempts in all, the first one included. */
  readonly maxAttempts: number;
  /** The longest wait a Retry-After header gets. */
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  baseMs: 500,
  maxMs: 30_000,
  maxAttempts: 8,
  maxRetryAfterMs: 60_000,
});

/** Bounds that keep every wait finite: an hour per wait, a thousand attempts. */
const MAX_WAIT_MS = 3_600_000;
const MAX_ATTEMPTS = 1000;

export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly retryAfter?: string | null | undefined }
  | { readonly kind: 'error'; readonly error: unknown };

export type RetryDecision =
  | { readonly action: 'ack' }
  | { readonly action: 'retry'; readonly delayMs: number }
  /** permanent: the destination refused the object; otherwise the attempts ran out. */
  | { readonly action: 'give-up'; readonly permanent: boolean };

export type StatusClass = 'ack' | 'retry' | 'permanent';

/** The policy with defaults filled in; throws ERR_LOGPUSH_CONFIG naming the path and the value. */
export function resolveRetryPolicy(input: Partial<RetryPolicy> | undefined, path = 'destination.retry'): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...input };
  for (const key of ['baseMs', 'maxMs', 'maxRetryAfterMs'] as const) {
    const value: unknown = policy[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_WAIT_MS) {
      throw configError(`${path}.${key}`, `a number of milliseconds from 0 to ${MAX_WAIT_MS}`, value);
    }
  }
  if (policy.maxMs < policy.baseMs) throw configError(`${path}.maxMs`, `at least baseMs (${policy.baseMs})`, policy.maxMs);
  const attempts: unknown = policy.maxAttempts;
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) {
    throw configError(`${path}.maxAttempts`, `an integer from 1 to ${MAX_ATTEMPTS}`, attempts);
  }
  return Object.freeze(policy);
}

export function classifyStatus(status: number): StatusClass {
  if (status >= 200 && status <= 299) return 'ack';
  if (status === 429 || (status >= 500 && status <= 599)) return 'retry';
  return 'permanent';
}

/** The backoff before retry number `retry` (0 = the first retry): uniform in [0, min(maxMs, baseMs * 2^retry)]. */
export function fullJitterDelay(retry: number, policy: RetryPolicy, random: () => number): number {
  // 2 ** 1024 is Infinity; capping the exponent keeps baseMs 0 a window of 0, not NaN.
  const exponent = Math.min(Math.max(0, Math.floor(retry)), 1023);
  const window = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const r = random();
  // A broken random source (NaN, out of range) waits the whole window rather than not at all.
  return window * (r >= 0 && r < 1 ? r : 1);
}

/**
 * Retry-After as milliseconds from `nowMs`: delta-seconds ("120") or an HTTP date. Undefined when
 * absent or unreadable (then the backoff applies); a date in the past is 0.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * What to do after attempt number `attempt` (1 = the first) ended with `outcome`. `nowMs` is the
 * wall clock, for a Retry-After date.
 */
export function decideRetry(outcome: AttemptOutcome, attempt: number, policy: RetryPolicy, random: () => number, nowMs: number): RetryDecision {
  let retryAfterMs: number | undefined;
  if (outcome.kind === 'response') {
    const verdict = classifyStatus(outcome.status);
    if (verdict === 'ack') return { action: 'ack' };
    if (verdict === 'permanent') return { action: 'give-up', permanent: true };
    retryAfterMs = parseRetryAfter(outcome.retryAfter, nowMs);
  }
  if (attempt >= policy.maxAttempts) return { action: 'give-up', permanent: false };
  const delayMs = retryAfterMs === undefined ? fullJitterDelay(attempt - 1, policy, random) : Math.min(retryAfterMs, policy.maxRetryAfterMs);
  return { action: 'retry', delayMs };
}
