/**
 * A token bucket: "at a set rate" for a source. Time is passed in (milliseconds from any monotonic
 * clock, e.g. performance.now()), so the bucket is a pure value, tested without waiting.
 *
 * Tokens accrue at `ratePerSecond` up to `burst`; `take` grants what is there, up to what was asked.
 * A clock that steps backwards adds nothing (and takes nothing away).
 */

import { optionError } from './errors.js';

export interface TokenBucketOptions {
  /** Events per second, finite, >= 0 (0 pauses the source). */
  ratePerSecond: number;
  /** Most tokens held at once: the largest burst after an idle spell. Default: 100 ms worth, at least 1. */
  burst?: number;
  /** Start full (default false: a fresh source ramps up instead of bursting at start). */
  startFull?: boolean;
}

export class TokenBucket {
  private rate = 0;
  private capacity = 1;
  private tokens: number;
  private lastMs: number;

  constructor(options: TokenBucketOptions, nowMs: number) {
    checkTime(nowMs);
    this.lastMs = nowMs;
    this.configure(options.ratePerSecond, options.burst);
    this.tokens = options.startFull === true ? this.capacity : 0;
  }

  get ratePerSecond(): number {
    return this.rate;
  }

  get burst(): number {
    return this.capacity;
  }

  /** Changes the rate (and burst) from `nowMs` on; tokens already earned stay, up to the new burst. */
  setRate(ratePerSecond: number, nowMs: number, burst?: number): void {
    this.refill(nowMs);
    this.configure(ratePerSecond, burst);
    if (this.tokens > this.capacity) this.tokens = this.capacity;
  }

  /** Whole tokens available at `nowMs`. */
  available(nowMs: number): number {
    this.refill(nowMs);
    return Math.floor(this.tokens);
  }

  /** Takes up to `wanted` whole tokens; returns how many were granted (0 when the bucket is empty). */
  take(wanted: number, nowMs: number): number {
    if (!(Number.isInteger(wanted) && wanted >= 0)) throw optionError('token bucket', 'take(wanted)', 'a non-negative integer', wanted);
    this.refill(nowMs);
    const granted = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= granted;
    return granted;
  }

  /** Milliseconds from `nowMs` until `count` tokens are there: 0 if now, Infinity if never (over burst or rate 0). */
  msUntil(count: number, nowMs: number): number {
    this.refill(nowMs);
    const missing = count - this.tokens;
    if (missing <= 0) return 0;
    if (count > this.capacity || this.rate === 0) return Infinity;
    return (missing * 1000) / this.rate;
  }

  private refill(nowMs: number): void {
    checkTime(nowMs);
    const elapsed = nowMs - this.lastMs;
    if (elapsed <= 0) return;
    this.lastMs = nowMs;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.rate) / 1000);
  }

  private configure(ratePerSecond: number, burst: number | undefined): void {
    if (!(typeof ratePerSecond === 'number' && Number.isFinite(ratePerSecond) && ratePerSecond >= 0)) {
      throw optionError('token bucket', 'ratePerSecond', 'a finite number >= 0', ratePerSecond);
    }
    const capacity = burst ?? Math.max(1, ratePerSecond / 10);
    if (!(typeof capacity === 'number' && Number.isFinite(capacity) && capacity >= 1)) {
      throw optionError('token bucket', 'burst', 'a finite number >= 1', capacity);
    }
    this.rate = ratePerSecond;
    this.capacity = capacity;
  }
}

function checkTime(nowMs: number): void {
  if (!(typeof nowMs === 'number' && Number.isFinite(nowMs))) throw optionError('token bucket', 'nowMs', 'a finite number', nowMs);
}
