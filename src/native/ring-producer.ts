/**
 * The producer side of a one-to-one ring: claim, fill, commit.
 *
 * Only this thread writes TAIL, so claims need no atomic read-modify-write: the record (and any
 * padding before it) is written with plain stores and published by one ordered store of TAIL.
 * A producer that dies between claim and commit published nothing; its successor attaches and
 * continues from TAIL. The consumer's HEAD is cached and reread only when the cache says full.
 */

import { HEAD_INDEX, PADDING_TYPE, RECORD_HEADER_LENGTH, TAIL_INDEX, align } from './ring-descriptor.js';
import { recordTooLargeError, recordTypeError, stateError } from './errors.js';
import { RingBuffer, attachRing } from './ring.js';

/** Producers share this surface, whichever discipline they use. */
export interface Producer {
  readonly ring: RingBuffer;
  /**
   * Claims room for a payload of `length` bytes. Returns the payload's offset in `ring.bytes`
   * (always 8-byte aligned, so copies into it run at full memcpy speed) or -1 when the ring is full.
   */
  tryClaim(type: number, length: number): number;
  /** Publishes the claimed record; `length` may shrink the payload below what was claimed. */
  commit(length?: number): void;
  /** Gives the claim up; nothing is published. */
  abort(): void;
  /** Claim, copy, commit; false when full. */
  tryWrite(type: number, payload: Uint8Array): boolean;
  /** Waits for room up to `timeoutMs`; returns the payload offset or -1 on timeout. */
  claim(type: number, length: number, timeoutMs: number): Promise<number>;
}

export class RingProducer implements Producer {
  readonly ring: RingBuffer;
  private tail: number;
  private headCache: number;
  private claimStart = -1;
  private claimIndex = 0;
  private claimLength = 0;

  constructor(ring: RingBuffer | SharedArrayBuffer) {
    this.ring = ring instanceof RingBuffer ? ring : attachRing(ring);
    if (this.ring.kind !== 'one-to-one') throw stateError('RingProducer needs a one-to-one ring; use ManyToOneProducer');
    // Consumes the positions left by a predecessor (or zero for a new ring).
    this.tail = Atomics.load(this.ring.control, TAIL_INDEX);
    this.headCache = Atomics.load(this.ring.control, HEAD_INDEX);
  }

  tryClaim(type: number, length: number): number {
    const ring = this.ring;
    if (this.claimStart !== -1) throw stateError('tryClaim called twice without commit or abort');
    if (!(length >= 0 && length <= ring.maxPayload)) throw recordTooLargeError(length, ring.maxPayload);
    if (!(type > 0 && (type | 0) === type)) throw recordTypeError(type);
    const aligned = align(length + RECORD_HEADER_LENGTH);
    const tail = this.tail;
    const index = tail & ring.mask;
    const toEnd = ring.capacity - index;
    const required = aligned <= toEnd ? aligned : aligned + toEnd;
    if (required > ring.capacity - ((tail - this.headCache) >>> 0)) {
      // Consumes the consumer's released position, only when the cached one says full.
      this.headCache = Atomics.load(ring.control, HEAD_INDEX);
      if (required > ring.capacity - ((tail - this.headCache) >>> 0)) return -1;
    }
    let recordIndex = index;
    let start = tail;
    if (aligned > toEnd) {
      const w = index >> 2;
      ring.words[w] = toEnd;
      ring.words[w + 1] = PADDING_TYPE;
      recordIndex = 0;
      start = (tail + toEnd) | 0;
    }
    ring.words[(recordIndex >> 2) + 1] = type;
    this.claimStart = start;
    this.claimIndex = recordIndex;
    this.claimLength = length;
    return recordIndex + RECORD_HEADER_LENGTH;
  }

  commit(length: number = this.claimLength): void {
    const ring = this.ring;
    if (this.claimStart === -1) throw stateError('commit without a claim');
    if (!(length >= 0 && length <= this.claimLength)) {
      throw recordTooLargeError(length, this.claimLength);
    }
    ring.words[this.claimIndex >> 2] = length + RECORD_HEADER_LENGTH;
    const tail = (this.claimStart + align(length + RECORD_HEADER_LENGTH)) | 0;
    this.tail = tail;
    this.claimStart = -1;
    // Publishes the record (and any padding before it) to the consumer.
    Atomics.store(ring.control, TAIL_INDEX, tail);
    ring.dataDoorbell.ring();
  }

  abort(): void {
    this.claimStart = -1;
  }

  tryWrite(type: number, payload: Uint8Array): boolean {
    return tryWriteRecord(this, type, payload);
  }

  claim(type: number, length: number, timeoutMs: number): Promise<number> {
    return claimWithWait(this, type, length, timeoutMs);
  }
}

const CLAIM_SPIN_MICROS = 20;

/** Claim, copy, commit: the one-shot write both producer kinds offer. */
export function tryWriteRecord(producer: Producer, type: number, payload: Uint8Array): boolean {
  const offset = producer.tryClaim(type, payload.length);
  if (offset < 0) return false;
  producer.ring.bytes.set(payload, offset);
  producer.commit();
  return true;
}

/** The async claim shared by both producer kinds: sleep on the space doorbell until room or timeout. */
export async function claimWithWait(producer: Producer, type: number, length: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  // A short bounded spin first: under continuous traffic the consumer releases within
  // microseconds, and a sleeping producer took 12-170 us to wake here (bench/transport).
  const spinUntil = performance.now() + CLAIM_SPIN_MICROS / 1000;
  for (;;) {
    for (let i = 0; i < 16; i++) {
      const offset = producer.tryClaim(type, length);
      if (offset >= 0) return offset;
    }
    if (performance.now() >= spinUntil) break;
  }
  for (;;) {
    const offset = producer.tryClaim(type, length);
    if (offset >= 0) return offset;
    const remaining = deadline - performance.now();
    if (remaining <= 0) return -1;
    const doorbell = producer.ring.spaceDoorbell;
    const seq = doorbell.prepare();
    // The announcement is left standing on success: with several producers, clearing it could
    // withdraw another's, and one spare notify costs less than a lost wake-up.
    const retry = producer.tryClaim(type, length);
    if (retry >= 0) return retry;
    await doorbell.wait(seq, Math.min(remaining, 1000));
  }
}
