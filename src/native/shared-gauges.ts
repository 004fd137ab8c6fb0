/**
 * Shared gauges: a few named 32-bit integers in a SharedArrayBuffer, written by one thread and
 * read by any, without a message. A reader on a hot path pays one Atomics.load per gauge.
 *
 * Layout: byte 0 MAGIC i32, byte 4 COUNT i32 (gauges), bytes 8..63 reserved; gauge i at byte
 * 64 + 4 i. The header sits on its own cache line so readers of the gauges never share a line
 * with it; gauges that change together share a line (a writer publishes them as one step).
 *
 * The values are plain i32 gauges: sequentially consistent per gauge, not as a set. A writer that
 * needs a reader to see several as one snapshot bumps a sequence gauge last (`add`), and the
 * reader compares it before and after.
 */

import { RingError } from './errors.js';

/** "SBGA" read as a little-endian u32. */
export const GAUGES_MAGIC = 0x41474253;
const HEADER_BYTES = 64;
const HEADER_WORDS = HEADER_BYTES / 4;
export const MAX_GAUGES = 1024;

export class SharedGauges {
  readonly buffer: SharedArrayBuffer;
  readonly count: number;
  private readonly words: Int32Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
    this.count = this.words[1]!;
  }

  /** A new set of `count` gauges, all 0. */
  static create(count: number): SharedGauges {
    if (!(Number.isSafeInteger(count) && count > 0 && count <= MAX_GAUGES)) {
      throw new RangeError(`gauge count must be an integer from 1 to ${MAX_GAUGES}, got ${String(count)}`);
    }
    const buffer = new SharedArrayBuffer(HEADER_BYTES + count * 4);
    const words = new Int32Array(buffer);
    words[0] = GAUGES_MAGIC;
    words[1] = count;
    return new SharedGauges(buffer);
  }

  /** The gauges in `buffer` (from `create` in another thread); throws ERR_RING_FOREIGN_BUFFER for anything else. */
  static attach(buffer: SharedArrayBuffer): SharedGauges {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES + 4) {
      throw new RingError('ERR_RING_FOREIGN_BUFFER', `not a shared gauges buffer (${describe(buffer)})`);
    }
    const words = new Int32Array(buffer);
    if (words[0] !== GAUGES_MAGIC || buffer.byteLength !== HEADER_BYTES + words[1]! * 4) {
      throw new RingError('ERR_RING_FOREIGN_BUFFER', `not a shared gauges buffer (magic ${words[0]}, ${buffer.byteLength} bytes)`);
    }
    return new SharedGauges(buffer);
  }

  load(gauge: number): number {
    return Atomics.load(this.words, this.index(gauge));
  }

  store(gauge: number, value: number): void {
    Atomics.store(this.words, this.index(gauge), value);
  }

  /** Adds `delta` and returns the previous value (wraps at 2^31, as i32 does). */
  add(gauge: number, delta: number): number {
    return Atomics.add(this.words, this.index(gauge), delta);
  }

  /**
   * Sleeps (Atomics.waitAsync: no spin, the thread's event loop keeps turning) while `gauge` reads
   * `value`, for at most `timeoutMs`: `'ok'` when notified, `'timed-out'`, or `'not-equal'` at once
   * when the gauge already reads something else. Callers loop on their own condition.
   */
  async waitWhile(gauge: number, value: number, timeoutMs: number): Promise<'ok' | 'timed-out' | 'not-equal'> {
    const wait = Atomics.waitAsync(this.words, this.index(gauge), value, timeoutMs);
    return wait.async ? await wait.value : wait.value;
  }

  /** Wakes every `waitWhile` on `gauge` (call after the store that ends the wait). */
  notify(gauge: number): void {
    Atomics.notify(this.words, this.index(gauge));
  }

  private index(gauge: number): number {
    if (!(gauge >= 0 && gauge < this.count && Number.isInteger(gauge))) {
      throw new RangeError(`gauge ${String(gauge)} is out of range 0..${this.count - 1}`);
    }
    return HEADER_WORDS + gauge;
  }
}

function describe(value: unknown): string {
  if (value instanceof SharedArrayBuffer) return `${value.byteLength} bytes`;
  return value === null ? 'null' : typeof value;
}
