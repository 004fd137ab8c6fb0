/**
 * What a thread does when it has nothing to read, after Aeron's BackoffIdleStrategy: spin a short,
 * bounded time (cheap, lowest latency under continuous traffic), then yield to the event loop a
 * few times (so control-plane messages run), then sleep on the doorbell (no CPU while idle).
 */

import type { WakeReason } from './doorbell.js';

export interface Waitable {
  hasData(): boolean;
  waitForData(timeoutMs: number): Promise<WakeReason>;
}

export interface IdleOptions {
  /** Longest busy spin before yielding, in microseconds. Default 50. */
  spinMicros?: number;
  /** Event-loop turns (setImmediate) before sleeping. Default 2. */
  yields?: number;
  /** Longest sleep on the doorbell before the caller gets control back, in ms. Default 200. */
  sleepMs?: number;
}

export const DEFAULT_IDLE: Required<IdleOptions> = { spinMicros: 50, yields: 2, sleepMs: 200 };

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class BackoffIdleStrategy {
  readonly options: Required<IdleOptions>;

  constructor(options: IdleOptions = {}) {
    this.options = { ...DEFAULT_IDLE, ...options };
    for (const [key, value] of Object.entries(this.options)) {
      if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`idle option ${key} must be a finite number >= 0, got ${value}`);
    }
  }

  /**
   * Returns once `source` has data, or after one sleep of at most `sleepMs`; the caller loops,
   * which gives it a chance to notice a stop request. Returns true when data is there.
   */
  async idle(source: Waitable): Promise<boolean> {
    if (this.spin(source)) return true;
    for (let i = 0; i < this.options.yields; i++) {
      await immediate();
      if (source.hasData()) return true;
    }
    await source.waitForData(this.options.sleepMs);
    return source.hasData();
  }

  /** The bounded spin alone: true as soon as data is there, false after `spinMicros`. */
  spin(source: Waitable): boolean {
    if (this.options.spinMicros === 0) return source.hasData();
    const deadline = performance.now() + this.options.spinMicros / 1000;
    for (;;) {
      for (let i = 0; i < 64; i++) if (source.hasData()) return true;
      if (performance.now() >= deadline) return false;
    }
  }
}
