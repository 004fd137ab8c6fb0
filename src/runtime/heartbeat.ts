/**
 * A worker's liveness and in-flight counters, in a small SharedArrayBuffer the supervisor side
 * owns (so it outlives the worker and its successor reuses it).
 *
 *   byte 0  ┌ BEAT i32        worker → supervisor: bumped by a timer on the worker's event loop
 *   byte 4  ├ UNRELEASED i32  worker → supervisor: records read from the mailbox, not released yet
 *   byte 8  ├ HANDLED i32     worker → supervisor: batches handled since the worker started
 *   byte 12 ├ COMPLETED i32   worker → successor: of the unreleased records, how many were handled to the end
 *   byte 16 ├ MARK[r] i32 ×12 worker → successor: per inbound ring r, the ring position just past
 *           │                 the last record handled to the end (kept across incarnations)
 *   byte 64 └
 *
 * A blocked event loop stops the timer, so BEAT stops moving: the supervisor calls that a stall.
 *
 * Marks make handling effectively once across a crash: records are released after a read of
 * several, so a crash leaves handled records unreleased; the successor reads them again and skips
 * every one at or before its ring's mark. Only the record a crash interrupted is handled again.
 */

export const BEAT_INDEX = 0;
export const UNRELEASED_INDEX = 1;
export const HANDLED_INDEX = 2;
export const COMPLETED_INDEX = 3;
export const MARKS_INDEX = 4;
const HEARTBEAT_BYTES = 64;
/** Inbound rings an actor may have marks for (its external ring and up to 11 senders). */
export const MAX_MARKED_RINGS = (HEARTBEAT_BYTES >> 2) - MARKS_INDEX;

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
    if (records === 0) Atomics.store(this.words, COMPLETED_INDEX, 0);
  }

  get unreleased(): number {
    return Atomics.load(this.words, UNRELEASED_INDEX);
  }

  /** After record `completed` of the current read was handled to the end, ending at `next` in ring `ring`. */
  complete(ring: number, next: number, completed: number): void {
    // The mark first: a crash between the two stores leaves a skip the successor still honours.
    if (ring < MAX_MARKED_RINGS) Atomics.store(this.words, MARKS_INDEX + ring, next);
    Atomics.store(this.words, COMPLETED_INDEX, completed);
  }

  /** Records of the current read that are done (handled to the end, or skipped by their marks). */
  setCompleted(completed: number): void {
    Atomics.store(this.words, COMPLETED_INDEX, completed);
  }

  /** Position just past the last record of `ring` handled to the end (0 before any). */
  mark(ring: number): number {
    return ring < MAX_MARKED_RINGS ? Atomics.load(this.words, MARKS_INDEX + ring) : 0;
  }

  /**
   * Records a successor will handle a second time: the one a crash interrupted (1), if any. The
   * read's records after it were never handled; those before it are skipped by their marks.
   */
  get redelivered(): number {
    return Atomics.load(this.words, UNRELEASED_INDEX) > Atomics.load(this.words, COMPLETED_INDEX) ? 1 : 0;
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
    Atomics.store(this.words, COMPLETED_INDEX, 0);
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
