/**
 * Shared counters: 64-bit event counters in a SharedArrayBuffer that any thread adds to, reads and
 * takes, without a message and without a lock, plus the 32-bit words of the owner's header. The
 * owner (the ledger, src/actors/ledger.ts) lays its table out in the buffer and names the
 * indices; this knows nothing of jobs or reasons.
 *
 * Indices: `add`, `load`, `take` and `loadGrowing` take the index of an i64 counter over the whole
 * buffer (byte 8 × index); `word` and `setWord` the index of an i32 word (byte 4 × index).
 *
 * Why i64: an i32 wraps after 2^31 events, 36 minutes for a job at a million events a second.
 * Atomics.add on a BigInt64Array is one instruction; Float64-safe i32 pairs would need a
 * compare-and-swap loop. Reads convert to Number, exact up to 2^53.
 */

/** Which 32-bit half of an i64 counter holds its high bits, and which its low (the platform's byte order). */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const HIGH_HALF = LITTLE_ENDIAN ? 1 : 0;
const LOW_HALF = LITTLE_ENDIAN ? 0 : 1;

export class SharedCounters {
  readonly buffer: SharedArrayBuffer;
  private readonly counters: BigInt64Array;
  /** The same memory as 32-bit halves, for reading a counter without a BigInt. */
  private readonly halves: Uint32Array;
  private readonly words: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength % 8 !== 0) {
      throw new RangeError(`shared counters need a SharedArrayBuffer of a multiple of 8 bytes, got ${buffer instanceof SharedArrayBuffer ? `${buffer.byteLength} bytes` : typeof buffer}`);
    }
    this.buffer = buffer;
    this.counters = new BigInt64Array(buffer);
    this.halves = new Uint32Array(buffer);
    this.words = new Int32Array(buffer);
  }

  /** Adds `n` (a safe integer, may be negative) to counter `index`, for every thread at once. */
  add(index: number, n: number): void {
    Atomics.add(this.counters, index, BigInt(n));
  }

  load(index: number): number {
    return Number(Atomics.load(this.counters, index));
  }

  /** Reads counter `index` and zeroes it in one step: what was there is the caller's alone. */
  take(index: number): number {
    return Number(Atomics.exchange(this.counters, index, 0n));
  }

  /**
   * A counter that only ever grows, read as two 32-bit halves (high, low, high again, retried if
   * the high half moved): the value of a moment between the reads, in order with the loads around
   * it, and no BigInt made. Number(Atomics.load) made a BigInt per counter: at 100,000 jobs the
   * ledger's totals() was 1.3 million of them, and stop()'s drain loop polling it was a second of
   * the main thread's time (bench:scale's hot set).
   */
  loadGrowing(index: number): number {
    const halves = this.halves;
    const hi = 2 * index + HIGH_HALF;
    const lo = 2 * index + LOW_HALF;
    for (;;) {
      const high = Atomics.load(halves, hi);
      const low = Atomics.load(halves, lo);
      if (Atomics.load(halves, hi) === high) return high * 0x1_0000_0000 + low;
    }
  }

  /** The i32 word `index` (a header field). */
  word(index: number): number {
    return Atomics.load(this.words, index);
  }

  /** Publishes the i32 word `index` to every thread. */
  setWord(index: number, value: number): void {
    Atomics.store(this.words, index, value);
  }
}
