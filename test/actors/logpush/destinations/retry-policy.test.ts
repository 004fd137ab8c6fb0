import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_RETRY_POLICY,
  classifyStatus,
  decideRetry,
  fullJitterDelay,
  parseRetryAfter,
  resolveRetryPolicy,
  type RetryPolicy,
} from '../../../../src/actors/logpush/destinations/retry-policy.js';

const policy: RetryPolicy = { baseMs: 100, maxMs: 1000, maxAttempts: 5, maxRetryAfterMs: 5000 };
const half = (): number => 0.5;
const NOW = Date.UTC(2024, 10, 14, 10, 0, 0);

describe('classifyStatus', () => {
  it('acks 2xx, retries 429 and 5xx, refuses everything else for good', () => {
    expect([200, 201, 204, 299].map(classifyStatus)).toEqual(['ack', 'ack', 'ack', 'ack']);
    expect([429, 500, 502, 503, 504, 599].map(classifyStatus)).toEqual(Array(6).fill('retry'));
    expect([100, 301, 304, 400, 401, 403, 404, 408, 413, 600].map(classifyStatus)).toEqual(Array(10).fill('permanent'));
  });
});

describe('fullJitterDelay', () => {
  it('draws from a window that doubles per retry up to maxMs', () => {
    expect([0, 1, 2, 3, 4, 5].map((r) => fullJitterDelay(r, policy, () => 0.999999))).toEqual(
      [100, 200, 400, 800, 1000, 1000].map((w) => w * 0.999999),
    );
    expect(fullJitterDelay(3, policy, () => 0)).toBe(0);
    expect(fullJitterDelay(Number.MAX_SAFE_INTEGER, policy, half)).toBe(500);
    expect(fullJitterDelay(2, policy, () => Number.NaN)).toBe(400);
  });

  it('stays within [0, min(maxMs, baseMs * 2^retry)] (property)', () => {
    fc.assert(
      fc.property(fc.nat(5000), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (retry, r) => {
        const delay = fullJitterDelay(retry, policy, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(retry, 1023)));
      }),
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates; a past date is 0; junk is undefined', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW - 30_000).toUTCString(), NOW)).toBe(0);
    for (const junk of [undefined, null, '', '-5', '1.5', 'soon', 'Thu, 99 Foo 2024']) expect(parseRetryAfter(junk, NOW)).toBeUndefined();
  });
});

describe('decideRetry', () => {
  it('acks a 2xx and gives up for good on a 4xx at any attempt', () => {
    expect(decideRetry({ kind: 'response', status: 200 }, 1, policy, half, NOW)).toEqual({ action: 'ack' });
    expect(decideRetry({ kind: 'response', status: 404 }, 1, policy, half, NOW)).toEqual({ action: 'give-up', permanent: true });
  });

  it('retries errors, 5xx and 429 with backoff until maxAttempts', () => {
    const outcomes = [{ kind: 'error', error: new Error('ECONNRESET') }, { kind: 'response', status: 502 }, { kind: 'response', status: 429 }] as const;
    for (const outcome of outcomes) {
      expect([1, 2, 3, 4].map((attempt) => decideRetry(outcome, attempt, policy, half, NOW))).toEqual([
        { action: 'retry', delayMs: 50 },
        { action: 'retry', delayMs: 100 },
        { action: 'retry', delayMs: 200 },
        { action: 'retry', delayMs: 400 },
      ]);
      expect(decideRetry(outcome, 5, policy, half, NOW)).toEqual({ action: 'give-up', permanent: false });
    }
  });

  it('waits as Retry-After says, capped at maxRetryAfterMs', () => {
    expect(decideRetry({ kind: 'response', status: 429, retryAfter: '2' }, 1, policy, half, NOW)).toEqual({ action: 'retry', delayMs: 2000 });
    expect(decideRetry({ kind: 'response', status: 503, retryAfter: '86400' }, 1, policy, half, NOW)).toEqual({ action: 'retry', delayMs: 5000 });
    expect(decideRetry({ kind: 'response', status: 429, retryAfter: 'garbage' }, 1, policy, half, NOW)).toEqual({ action: 'retry', delayMs: 50 });
    // Retry-After does not lift the attempt limit.
    expect(decideRetry({ kind: 'response', status: 429, retryAfter: '1' }, 5, policy, half, NOW)).toEqual({ action: 'give-up', permanent: false });
  });
});

describe('resolveRetryPolicy', () => {
  it('fills in finite defaults and refuses values that are not', () => {
    expect(resolveRetryPolicy(undefined)).toEqual(DEFAULT_RETRY_POLICY);
    expect(resolveRetryPolicy({ maxAttempts: 3 }).maxAttempts).toBe(3);
    expect(() => resolveRetryPolicy({ maxMs: Infinity })).toThrow(expect.objectContaining({ path: 'destination.retry.maxMs' }));
    expect(() => resolveRetryPolicy({ baseMs: -1 })).toThrow(expect.objectContaining({ path: 'destination.retry.baseMs' }));
    expect(() => resolveRetryPolicy({ maxAttempts: 1.5 })).toThrow(expect.objectContaining({ path: 'destination.retry.maxAttempts' }));
    expect(() => resolveRetryPolicy({ maxRetryAfterMs: Number.NaN })).toThrow(expect.objectContaining({ path: 'destination.retry.maxRetryAfterMs' }));
  });
});
