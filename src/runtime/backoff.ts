/**
 * Restart backoff: how long a supervisor waits before restarting a child that keeps failing.
 * Exponential from `minMs`, doubling per consecutive restart, capped at `maxMs`, spread by jitter
 * so children that failed together (one_for_all) do not come back in lockstep. Pure: the time and
 * the random source are passed in.
 */

import type { BackoffOptions } from './child-spec.js';

// 2 ** 1024 is Infinity and 0 * Infinity is NaN: capping the exponent keeps minMs 0 a delay of 0.
const MAX_EXPONENT = 1023;

/** The delay before jitter: minMs * 2^attempt, at most maxMs. `attempt` 0 is the first restart. */
export function backoffBase(attempt: number, options: BackoffOptions): number {
  const exponent = attempt > 0 ? Math.min(Math.floor(attempt), MAX_EXPONENT) : 0;
  return Math.min(options.maxMs, options.minMs * 2 ** exponent);
}

/**
 * The delay before restart number `attempt` (0-based) of a run of consecutive failures:
 * the base varied by up to +/- `jitter` of itself, so always within [0, maxMs * (1 + jitter)].
 * `random` returns a number in [0, 1), as Math.random does.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const base = backoffBase(attempt, options);
  const r = random();
  // A broken random source (NaN, out of range) means no jitter rather than a NaN delay.
  const spread = r >= 0 && r <= 1 ? 2 * r - 1 : 0;
  return Math.max(0, base * (1 + options.jitter * spread));
}

export interface RestartBackoffOptions extends BackoffOptions {
  /** A run this long without failing starts the backoff over from minMs. */
  readonly stableMs: number;
}

/**
 * Consecutive restarts of one child. A child that crashes right after each start waits longer
 * each time; one that ran `stableMs` before failing is treated as healthy and restarts after minMs.
 */
export class RestartBackoff {
  readonly #options: RestartBackoffOptions;
  readonly #random: () => number;
  #attempt = 0;
  #startedAt: number | undefined;

  constructor(options: RestartBackoffOptions, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  /** Restarts since the last stable run. */
  get consecutive(): number {
    return this.#attempt;
  }

  /** The child (re)started at `now`. */
  started(now: number): void {
    this.#startedAt = now;
  }

  /** The child failed at `now` and will be restarted: the delay before starting it again. */
  nextDelay(now: number): number {
    if (this.#startedAt !== undefined && now - this.#startedAt >= this.#options.stableMs) this.#attempt = 0;
    // Until started() is called again the child is not running, so no run can count as stable.
    this.#startedAt = undefined;
    const delay = backoffDelay(this.#attempt, this.#options, this.#random);
    this.#attempt++;
    return delay;
  }

  /** Forget past failures, e.g. when the supervisor restarts the child for an operator. */
  reset(): void {
    this.#attempt = 0;
    this.#startedAt = undefined;
  }
}
