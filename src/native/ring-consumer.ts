/**
 * The consumer side of a ring: read, process, release.
 *
 * `read` hands each record to the handler as a view into shared memory (no copy) and advances a
 * private cursor; `release` publishes the cursor as HEAD, which is what lets producers reuse the
 * space. Records read but not released are still in the ring: a consumer that attaches after a
 * crash starts from HEAD and reads them again (at-least-once across restarts).
 *
 * One consumer per ring at a time: the supervisor side guarantees it (a successor is attached only
 * after its predecessor's thread has exited).
 */

import {
  HEAD_INDEX,
  PADDING_TYPE,
  RECORD_HEADER_LENGTH,
  TAIL_INDEX,
  align,
} from './ring-descriptor.js';
import { RingBuffer, attachRing } from './ring.js';
import type { WakeReason } from './doorbell.js';

/**
 * Receives one record: its type, the ring's data view, the payload's offset in it (8-byte aligned),
 * the payload's length, and `next`, the ring position just past the record (an i32 that wraps:
 * compare positions with `(a - b) | 0`). The view is valid until the record is released: copy out
 * what must outlive that. A consumer that records `next` of each record it has fully handled can
 * tell, after a crash, which of the records it reads again were handled already.
 */
export type RecordHandler = (type: number, bytes: Uint8Array, offset: number, length: number, next: number) => void;

export class RingConsumer {
  readonly ring: RingBuffer;
  private readonly manyToOne: boolean;
  /** Next position to read (private to this consumer). */
  private cursor: number;
  /** Position released to producers (mirrors HEAD). */
  private head: number;

  constructor(ring: RingBuffer | SharedArrayBuffer) {
    this.ring = ring instanceof RingBuffer ? ring : attachRing(ring);
    this.manyToOne = this.ring.kind === 'many-to-one';
    // Consumes the position released by a predecessor: unreleased records are read again.
    this.head = Atomics.load(this.ring.control, HEAD_INDEX);
    this.cursor = this.head;
  }

  /** Hands up to `limit` records to `handler`; returns how many. Nothing is released. */
  read(handler: RecordHandler, limit: number = 0x7fffffff): number {
    return this.manyToOne ? this.readManyToOne(handler, limit) : this.readOneToOne(handler, limit);
  }

  private readOneToOne(handler: RecordHandler, limit: number): number {
    const { words, bytes, mask } = this.ring;
    // Consumes every record the producer has published.
    const tail = Atomics.load(this.ring.control, TAIL_INDEX);
    let cursor = this.cursor;
    let count = 0;
    while (cursor !== tail && count < limit) {
      const index = cursor & mask;
      const length = words[index >> 2]!;
      const type = words[(index >> 2) + 1]!;
      if (type === PADDING_TYPE) {
        cursor = (cursor + length) | 0;
        this.cursor = cursor;
        continue;
      }
      const next = (cursor + align(length)) | 0;
      handler(type, bytes, index + RECORD_HEADER_LENGTH, length - RECORD_HEADER_LENGTH, next);
      cursor = next;
      this.cursor = cursor;
      count++;
    }
    return count;
  }

  private readManyToOne(handler: RecordHandler, limit: number): number {
    const { words, bytes, mask, capacity } = this.ring;
    // A full ring holds a whole lap of unreleased records: past it, the record at the cursor is
    // the first one read in this lap, still in place because it is not released yet.
    const end = (this.head + capacity) | 0;
    let cursor = this.cursor;
    let count = 0;
    while (cursor !== end && count < limit) {
      const index = cursor & mask;
      // Consumes a record published by its producer's ordered length store.
      const length = Atomics.load(words, index >> 2);
      if (length <= 0) break;
      const type = words[(index >> 2) + 1]!;
      if (type === PADDING_TYPE) {
        cursor = (cursor + length) | 0;
        this.cursor = cursor;
        continue;
      }
      const next = (cursor + align(length)) | 0;
      handler(type, bytes, index + RECORD_HEADER_LENGTH, length - RECORD_HEADER_LENGTH, next);
      cursor = next;
      this.cursor = cursor;
      count++;
    }
    return count;
  }

  /** The position released to producers: where a successor starts reading. */
  get released(): number {
    return this.head;
  }

  /** Releases everything read so far to the producers. */
  release(): void {
    const cursor = this.cursor;
    const head = this.head;
    if (cursor === head) return;
    if (this.manyToOne) this.zero(head, cursor);
    this.head = cursor;
    // Publishes the freed space to producers.
    Atomics.store(this.ring.control, HEAD_INDEX, cursor);
    this.ring.spaceDoorbell.ring();
  }

  /** Forgets what was read and not released, so the next read returns it again. */
  rewind(): void {
    this.cursor = this.head;
  }

  /** Bytes read and not yet released. */
  get unreleasedBytes(): number {
    return (this.cursor - this.head) >>> 0;
  }

  /** Bytes published and not yet released (the ring's occupancy). */
  get occupiedBytes(): number {
    return (Atomics.load(this.ring.control, TAIL_INDEX) - this.head) >>> 0;
  }

  /** Whether a read would return something now. */
  hasData(): boolean {
    if (!this.manyToOne) return Atomics.load(this.ring.control, TAIL_INDEX) !== this.cursor;
    if (this.cursor === ((this.head + this.ring.capacity) | 0)) return false;
    return Atomics.load(this.ring.words, (this.cursor & this.ring.mask) >> 2) > 0;
  }

  /** Sleeps on the data doorbell until a producer publishes, or for at most `timeoutMs`. */
  async waitForData(timeoutMs: number): Promise<WakeReason> {
    const doorbell = this.ring.dataDoorbell;
    const seq = doorbell.prepare();
    if (this.hasData()) {
      doorbell.cancel();
      return 'changed';
    }
    return doorbell.wait(seq, timeoutMs);
  }

  /**
   * Many-to-one only: a producer that died between claim and commit leaves a record that is
   * claimed (TAIL moved past it) but never published. Call this when `hasData()` has stayed false
   * while `occupiedBytes` is non-zero for longer than any live producer takes to commit; the dead
   * claim becomes padding and reading resumes. Returns whether a record was unblocked.
   */
  unblock(): boolean {
    if (!this.manyToOne) return false;
    const { words, mask, capacity } = this.ring;
    const tail = Atomics.load(this.ring.control, TAIL_INDEX);
    if (tail === this.cursor) return false;
    const index = this.cursor & mask;
    const w = index >> 2;
    const length = Atomics.load(words, w);
    if (length > 0) return false;
    let size: number;
    if (length < 0) {
      size = -length;
    } else {
      // The producer died before writing its header: the claim runs up to the next written
      // header, the wrap, or TAIL, whichever comes first.
      const limit = Math.min(capacity - index, (tail - this.cursor) >>> 0);
      size = RECORD_HEADER_LENGTH;
      while (size < limit && Atomics.load(words, (index + size) >> 2) === 0) size += RECORD_HEADER_LENGTH;
    }
    words[w + 1] = PADDING_TYPE;
    // Publishes the dead claim as padding; only the consumer writes here after the timeout.
    Atomics.store(words, w, size);
    return true;
  }

  /** Zeroes [from, to) in 8-byte words (positions are always 8-byte aligned). */
  private zero(from: number, to: number): void {
    const { longs, mask, capacity } = this.ring;
    const start = from & mask;
    const length = (to - from) >>> 0;
    if (start + length <= capacity) {
      longs.fill(0n, start >> 3, (start + length) >> 3);
    } else {
      longs.fill(0n, start >> 3, capacity >> 3);
      longs.fill(0n, 0, (start + length - capacity) >> 3);
    }
  }
}
