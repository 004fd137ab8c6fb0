/**
 * The producer side of a many-to-one ring (Agrona's ManyToOneRingBuffer): any number of threads
 * claim space with a compare-and-swap on TAIL, write their record, and publish it by flipping its
 * length from negative to positive with an ordered store. The consumer reads up to the first
 * record whose length is not yet positive and zeroes what it releases, so a stale header is never
 * mistaken for a new one.
 *
 * A producer that dies between claim and commit leaves a negative length that would block the
 * consumer forever; `RingConsumer.unblock()` turns such a record into padding after a timeout.
 */

import { HEAD_INDEX, PADDING_TYPE, RECORD_HEADER_LENGTH, TAIL_INDEX, align } from './ring-descriptor.js';
import { recordTooLargeError, recordTypeError, stateError } from './errors.js';
import { RingBuffer, attachRing } from './ring.js';
import { type Producer, claimWithWait, tryWriteRecord } from './ring-producer.js';

export class ManyToOneProducer implements Producer {
  readonly ring: RingBuffer;
  private claimIndex = -1;
  private claimLength = 0;
  private headCache: number;

  constructor(ring: RingBuffer | SharedArrayBuffer) {
    this.ring = ring instanceof RingBuffer ? ring : attachRing(ring);
    if (this.ring.kind !== 'many-to-one') throw stateError('ManyToOneProducer needs a many-to-one ring; use RingProducer');
    this.headCache = Atomics.load(this.ring.control, HEAD_INDEX);
  }

  tryClaim(type: number, length: number): number {
    const ring = this.ring;
    const control = ring.control;
    if (this.claimIndex !== -1) throw stateError('tryClaim called twice without commit or abort');
    if (!(length >= 0 && length <= ring.maxPayload)) throw recordTooLargeError(length, ring.maxPayload);
    if (!(type > 0 && (type | 0) === type)) throw recordTypeError(type);
    const aligned = align(length + RECORD_HEADER_LENGTH);
    let index: number;
    let toEnd: number;
    let tail: number;
    for (;;) {
      // Consumes the other producers' claims.
      tail = Atomics.load(control, TAIL_INDEX);
      index = tail & ring.mask;
      toEnd = ring.capacity - index;
      const required = aligned <= toEnd ? aligned : aligned + toEnd;
      if (required > ring.capacity - ((tail - this.headCache) >>> 0)) {
        // Consumes the consumer's released position, only when the cached one says full (HEAD
        // only moves forward, so a stale cache is merely pessimistic).
        this.headCache = Atomics.load(control, HEAD_INDEX);
        if (required > ring.capacity - ((tail - this.headCache) >>> 0)) return -1;
      }
      // Claims [tail, tail + required) for this producer alone.
      if (Atomics.compareExchange(control, TAIL_INDEX, tail, (tail + required) | 0) === tail) break;
    }
    const words = ring.words;
    if (aligned > toEnd) {
      const w = index >> 2;
      words[w + 1] = PADDING_TYPE;
      // Publishes the padding to the consumer.
      Atomics.store(words, w, toEnd);
      index = 0;
    }
    const w = index >> 2;
    // Marks the record as claimed but unwritten, for unblock().
    Atomics.store(words, w, -(aligned));
    words[w + 1] = type;
    this.claimIndex = index;
    this.claimLength = length;
    return index + RECORD_HEADER_LENGTH;
  }

  commit(length: number = this.claimLength): void {
    if (this.claimIndex === -1) throw stateError('commit without a claim');
    if (!(length >= 0 && length <= this.claimLength)) throw recordTooLargeError(length, this.claimLength);
    const words = this.ring.words;
    const w = this.claimIndex >> 2;
    this.claimIndex = -1;
    const aligned = align(this.claimLength + RECORD_HEADER_LENGTH);
    const used = align(length + RECORD_HEADER_LENGTH);
    if (used < aligned) {
      // The claimed space cannot be handed back: what the record no longer needs becomes padding.
      const pad = w + (used >> 2);
      words[pad + 1] = PADDING_TYPE;
      Atomics.store(words, pad, aligned - used);
    }
    // Publishes the record to the consumer.
    Atomics.store(words, w, length + RECORD_HEADER_LENGTH);
    this.ring.dataDoorbell.ring();
  }

  abort(): void {
    if (this.claimIndex === -1) return;
    const words = this.ring.words;
    const w = this.claimIndex >> 2;
    this.claimIndex = -1;
    words[w + 1] = PADDING_TYPE;
    // Publishes the abandoned claim as padding, which the consumer skips.
    Atomics.store(words, w, align(this.claimLength + RECORD_HEADER_LENGTH));
    this.ring.dataDoorbell.ring();
  }

  tryWrite(type: number, payload: Uint8Array): boolean {
    return tryWriteRecord(this, type, payload);
  }

  claim(type: number, length: number, timeoutMs: number): Promise<number> {
    return claimWithWait(this, type, length, timeoutMs);
  }
}
