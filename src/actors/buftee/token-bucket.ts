/**
 * A token bucket for new buffers per second: `rate` tokens a second, holding at most `capacity`
 * (one second's worth by default, so a burst of `rate` new buffers passes at once). O(1) per call;
 * refilled lazily from the time given, which must not go backwards.
 */
export class TokenBucket {
  readonly rate: number;
  readonly capacity: number;
  private tokens: number;
  private refilledAt: number;

  constructor(rate: number, now: number, capacity: number = rate) {
    this.rate = rate;
    this.capacity = capacity;
    this.tokens = capacity;
    this.refilledAt = now;
  }

  /** Tokens available at `now`. An unlimited bucket (rate Infinity) is always full. */
  available(now: number): number {
    if (this.rate === Infinity) return Infinity;
    if (now > this.refilledAt) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
      this.refilledAt = now;
    }
    return this.tokens;
  }

  /** Takes one token if at least `reserve` tokens would be left after it. */
  tryTake(now: number, reserve = 0): boolean {
    if (this.available(now) - 1 < reserve) return false;
    this.tokens -= 1;
    return true;
  }

  /** Tokens taken and not yet refilled: the bucket's "used" side, for pressure levels. */
  used(now: number): number {
    const available = this.available(now);
    return available === Infinity ? 0 : this.capacity - available;
  }
}
