/**
 * A doorbell: two Int32 words in shared memory, SLEEPING and SEQ, through which a thread that has
 * nothing to do sleeps and another wakes it. The waker pays for `Atomics.notify` only when the
 * sleeper announced that it is going to sleep.
 *
 * Sleeper:  store SLEEPING=1, load SEQ, re-check its condition, then wait while SEQ is unchanged.
 * Waker:    after publishing its work, if SLEEPING is 1, swap it to 0, bump SEQ and notify.
 *
 * Every Atomics operation is sequentially consistent, so either the sleeper's re-check sees the
 * waker's work or the waker sees SLEEPING=1: a wake-up cannot be lost between the two.
 *
 * Node 20 quirks handled here: `Atomics.waitAsync` returns synchronously ({ async: false }) when
 * SEQ already changed, and a pending waitAsync does not keep the event loop alive, so a timer is
 * held for the length of the wait.
 */

export type WakeReason = 'woken' | 'changed' | 'timed-out';

const noop = (): void => {};
/** setTimeout fires at once (with a warning) past 2^31 - 1 ms; a longer wait re-arms on return. */
const MAX_TIMER_MS = 0x7fffffff;

export class Doorbell {
  private readonly words: Int32Array;
  private readonly sleepingIndex: number;
  private readonly seqIndex: number;

  constructor(words: Int32Array, sleepingIndex: number, seqIndex: number) {
    this.words = words;
    this.sleepingIndex = sleepingIndex;
    this.seqIndex = seqIndex;
  }

  /**
   * Announces sleep and returns the SEQ to wait on. The caller re-checks its condition after this
   * and before `wait`, and calls `wait` only if there is still nothing to do.
   */
  prepare(): number {
    // Publishes "wake me" to the waker; must precede the caller's re-check.
    Atomics.store(this.words, this.sleepingIndex, 1);
    // Consumes the generation that a later wake will move on from.
    return Atomics.load(this.words, this.seqIndex);
  }

  /** Withdraws an announcement when the re-check found work. */
  cancel(): void {
    // Tells the waker that no notify is needed any more.
    Atomics.store(this.words, this.sleepingIndex, 0);
  }

  /** Sleeps until woken, until SEQ differs from `seq`, or for at most `timeoutMs`. */
  async wait(seq: number, timeoutMs: number): Promise<WakeReason> {
    timeoutMs = Math.min(Math.max(0, timeoutMs), MAX_TIMER_MS);
    const result = Atomics.waitAsync(this.words, this.seqIndex, seq, timeoutMs);
    if (!result.async) return result.value === 'not-equal' ? 'changed' : 'timed-out';
    // The one place that keeps the event loop alive on purpose: a pending waitAsync does not
    // (Node 20), and a sleeping consumer must not let its thread exit.
    const keepAlive = setTimeout(noop, Math.min(timeoutMs + 1000, MAX_TIMER_MS));
    try {
      const value = await result.value;
      return value === 'ok' ? 'woken' : 'timed-out';
    } finally {
      clearTimeout(keepAlive);
    }
  }

  /** Wakes the sleeper if there is one. Returns whether a notify was sent. */
  ring(): boolean {
    // Reads the sleeper's announcement; the common case (nobody asleep) stops here.
    if (Atomics.load(this.words, this.sleepingIndex) === 0) return false;
    // Exactly one waker clears the announcement and pays for the notify.
    if (Atomics.compareExchange(this.words, this.sleepingIndex, 1, 0) !== 1) return false;
    // Publishes a new generation, so a sleeper that has not yet called wait returns at once.
    Atomics.add(this.words, this.seqIndex, 1);
    // Wakes every thread waiting on the old generation.
    Atomics.notify(this.words, this.seqIndex);
    return true;
  }

  /** Wakes any waiter on this doorbell unconditionally (used to retire stale waits). */
  interrupt(): void {
    // Publishes a new generation and wakes every waiter on the old one.
    Atomics.add(this.words, this.seqIndex, 1);
    Atomics.notify(this.words, this.seqIndex);
  }
}
