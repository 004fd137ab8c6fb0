/**
 * How many objects one Logpush puts at once, over all its jobs. Each job puts at most two of its
 * objects at once (PUTS_PER_JOB, job-delivery.ts), but 100,000 jobs sealing at the same interval
 * each opened a file (or a connection) at once: at 1,000,000 jobs the object store ran out of file
 * descriptors (EMFILE, bench/scale). A
 * job waits for a slot in arrival order; the wait is bounded by the slots' puts, which each end
 * (a put resolves or rejects; HTTP puts have their own timeout).
 */
export class PutSlots {
  private free: number;
  /** Jobs waiting for a slot, first come first served. Bounded: a job waits with one put at a time. */
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  /** Urgent waiters (a job holding much of Buftee's budget), served before the others, in order. */
  private readonly urgent: (() => void)[] = [];
  private urgentHead = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`put slots must be a positive integer, got ${size}`);
    this.free = size;
  }

  /**
   * Resolves with a release function once a slot is free. `urgent` waiters go before every other
   * waiter (still in order among themselves): a job whose unacked batches fill its Buftee buffer
   * blocks Buftee's mailbox for every job once the buffer is full, so its put must not queue
   * behind a thousand small ones sealed by the same interval.
   */
  acquire(urgent = false): Promise<() => void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => (urgent ? this.urgent : this.waiting).push(() => resolve(this.releaser())));
  }

  /** Puts in progress. */
  get busy(): number {
    return this.size - this.free;
  }

  /** Jobs waiting for a slot. */
  get queued(): number {
    return this.waiting.length - this.head + this.urgent.length - this.urgentHead;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (this.urgentHead < this.urgent.length) {
        const next = this.urgent[this.urgentHead++]!;
        if (this.urgentHead === this.urgent.length) this.urgent.length = this.urgentHead = 0;
        next();
      } else if (this.head < this.waiting.length) {
        const next = this.waiting[this.head++]!;
        if (this.head > 1024 && this.head * 2 > this.waiting.length) {
          this.waiting.splice(0, this.head);
          this.head = 0;
        }
        next();
      } else {
        this.free++;
      }
    };
  }
}
