/**
 * A worker's liveness and in-flight counters, in a small SharedArrayBuffer the supervisor side
 * owns (so it outlives the worker and its successor reuses it).
 *
 *   byte 0  ┌ BEAT i32        worker → supervisor: bumped by a timer on the worker's event loop
 *   byte 4  ├ UNRELEASED i32  worker → supervisor: records read from the mailbox, not released yet
 *   byte 8  ├ HANDLED i32     worker → supervisor: batches handled since the worker started
 *   byte 12 └ (reserved, to 64)
 *
 * A blocked event loop stops the timer, so BEAT stops moving: the supervisor calls that a stall.
 */

export const BEAT_INDEX = 0;
export const UNRELEASED_INDEX = 1;
export const HANDLED_INDEX = 2;
const HEARTBEAT_BYTES = 64;

export function createHeartbeat(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEARTBEAT_BYTES);
}

export class Heartbeat {
  readonly words: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab, 0, HEARTBEAT_BYTES >> 2);
  }

  beat(): void {
    // Publishes "my event loop turned" to the supervisor's watchdog.
    Atomics.add(this.words, BEAT_INDEX, 1);
  }

  get beats(): number {
    // Consumes the worker's beats.
    return Atomics.load(this.words, BEAT_INDEX);
  }

  setUnreleased(records: number): void {
    // Publishes how many records a crash now would leave for the successor to read again.
    Atomics.store(this.words, UNRELEASED_INDEX, records);
  }

  get unreleased(): number {
    return Atomics.load(this.words, UNRELEASED_INDEX);
  }

  handled(batches: number): void {
    // Publishes progress: the restart benchmark waits on this to see a successor's first batch.
    Atomics.add(this.words, HANDLED_INDEX, batches);
  }

  get handledBatches(): number {
    return Atomics.load(this.words, HANDLED_INDEX);
  }

  /** Resets the per-incarnation counters before a successor starts. */
  resetIncarnation(): void {
    Atomics.store(this.words, UNRELEASED_INDEX, 0);
    Atomics.store(this.words, HANDLED_INDEX, 0);
  }
}

/** Watches a heartbeat from the supervisor side: stalled when BEAT has not moved for `timeoutMs`. */
export class StallWatch {
  private last: number;
  private lastChange: number;

  constructor(private readonly heartbeat: Heartbeat, private readonly timeoutMs: number, now: number) {
    this.last = heartbeat.beats;
    this.lastChange = now;
  }

  /** Call periodically; returns the stalled time in ms when past the timeout, else 0. */
  check(now: number): number {
    const beats = this.heartbeat.beats;
    if (beats !== this.last) {
      this.last = beats;
      this.lastChange = now;
      return 0;
    }
    const stalled = now - this.lastChange;
    return stalled > this.timeoutMs ? stalled : 0;
  }
}
