/**
 * A ring: one SharedArrayBuffer holding a header block and a power-of-two data region of
 * variable-length records (layout in ring-descriptor.ts). This file creates and attaches rings;
 * ring-producer.ts, many-to-one-producer.ts and ring-consumer.ts are the two sides.
 *
 * The buffer alone describes the ring: any thread, including the successor of a crashed one,
 * attaches with `attachRing(sab)` and finds the capacity, the kind and both positions in it.
 */

import {
  CAPACITY_INDEX,
  DATA_OFFSET,
  DATA_SEQ_INDEX,
  DATA_SLEEPING_INDEX,
  HEAD_INDEX,
  KIND_INDEX,
  KIND_MANY_TO_ONE,
  KIND_ONE_TO_ONE,
  LAYOUT_VERSION,
  MAGIC,
  MAGIC_INDEX,
  MAX_CAPACITY,
  MIN_CAPACITY,
  SPACE_SEQ_INDEX,
  SPACE_SLEEPING_INDEX,
  TAIL_INDEX,
  VERSION_INDEX,
  isPowerOfTwo,
  maxPayloadLength,
} from './ring-descriptor.js';
import { Doorbell } from './doorbell.js';
import { RingError, capacityError, foreignBufferError } from './errors.js';

export type RingKind = 'one-to-one' | 'many-to-one';

export interface RingOptions {
  /** Bytes of record space; a power of two from 1 KiB to 1 GiB. */
  capacity: number;
  /** `one-to-one` (default): one producer thread. `many-to-one`: producers claim with a CAS. */
  kind?: RingKind;
}

/** Creates the shared memory of a new, empty ring. */
export function createRing(options: RingOptions): SharedArrayBuffer {
  const { capacity } = options;
  if (!isPowerOfTwo(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY) {
    throw capacityError(capacity, MIN_CAPACITY, MAX_CAPACITY);
  }
  const kind = options.kind ?? 'one-to-one';
  if (kind !== 'one-to-one' && kind !== 'many-to-one') {
    throw new RingError('ERR_RING_KIND', `ring kind must be one-to-one or many-to-one, got ${String(kind)}`);
  }
  const sab = new SharedArrayBuffer(DATA_OFFSET + capacity);
  const words = new Int32Array(sab, 0, DATA_OFFSET >> 2);
  words[CAPACITY_INDEX] = capacity;
  words[KIND_INDEX] = kind === 'one-to-one' ? KIND_ONE_TO_ONE : KIND_MANY_TO_ONE;
  words[VERSION_INDEX] = LAYOUT_VERSION;
  // Publishes the header to any thread that attaches: the magic is written last.
  Atomics.store(words, MAGIC_INDEX, MAGIC);
  return sab;
}

/** The views every side of a ring works through. */
export class RingBuffer {
  readonly sab: SharedArrayBuffer;
  readonly kind: RingKind;
  readonly capacity: number;
  readonly mask: number;
  readonly maxPayload: number;
  /** The control words (ring-descriptor.ts names every index). */
  readonly control: Int32Array;
  /** The data region; record offsets returned by producers and consumers index into it. */
  readonly bytes: Uint8Array;
  /** The data region as words, for record headers. */
  readonly words: Int32Array;
  /**
   * The data region as 8-byte words, for zeroing released space: `fill(0n)` here ran at 10-18 GB/s
   * against 1.2-2.5 GB/s for a byte-wise `fill(0)` on shared memory (bench/transport, this machine).
   */
  readonly longs: BigInt64Array;
  /** Rung by producers when they publish; the consumer sleeps on it. */
  readonly dataDoorbell: Doorbell;
  /** Rung by the consumer when it releases; producers waiting for space sleep on it. */
  readonly spaceDoorbell: Doorbell;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    if (!(sab instanceof SharedArrayBuffer)) throw foreignBufferError(`expected a SharedArrayBuffer, got ${describe(sab)}`);
    if (sab.byteLength < DATA_OFFSET + MIN_CAPACITY) {
      throw foreignBufferError(`buffer of ${sab.byteLength} bytes is smaller than the minimum ring of ${DATA_OFFSET + MIN_CAPACITY}`);
    }
    this.control = new Int32Array(sab, 0, DATA_OFFSET >> 2);
    // Consumes the header published by createRing.
    const magic = Atomics.load(this.control, MAGIC_INDEX);
    if (magic !== MAGIC) {
      throw foreignBufferError(`magic is 0x${(magic >>> 0).toString(16)}, expected 0x${MAGIC.toString(16)}`);
    }
    const version = this.control[VERSION_INDEX]!;
    if (version !== LAYOUT_VERSION) {
      throw new RingError('ERR_RING_LAYOUT_VERSION', `ring layout version is ${version}, this build reads version ${LAYOUT_VERSION}`);
    }
    const capacity = this.control[CAPACITY_INDEX]!;
    if (!isPowerOfTwo(capacity) || sab.byteLength !== DATA_OFFSET + capacity) {
      throw foreignBufferError(`capacity ${capacity} does not match a buffer of ${sab.byteLength} bytes`);
    }
    const kind = this.control[KIND_INDEX];
    if (kind !== KIND_ONE_TO_ONE && kind !== KIND_MANY_TO_ONE) {
      throw foreignBufferError(`unknown ring kind ${String(kind)}`);
    }
    this.kind = kind === KIND_ONE_TO_ONE ? 'one-to-one' : 'many-to-one';
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.maxPayload = maxPayloadLength(capacity);
    this.bytes = new Uint8Array(sab, DATA_OFFSET, capacity);
    this.words = new Int32Array(sab, DATA_OFFSET, capacity >> 2);
    this.longs = new BigInt64Array(sab, DATA_OFFSET, capacity >> 3);
    this.dataDoorbell = new Doorbell(this.control, DATA_SLEEPING_INDEX, DATA_SEQ_INDEX);
    this.spaceDoorbell = new Doorbell(this.control, SPACE_SLEEPING_INDEX, SPACE_SEQ_INDEX);
  }

  /** Bytes claimed by producers and not yet released by the consumer (a snapshot). */
  get occupiedBytes(): number {
    // Consumes both positions; each is exact, their difference is a moment's snapshot.
    return (Atomics.load(this.control, TAIL_INDEX) - Atomics.load(this.control, HEAD_INDEX)) >>> 0;
  }
}

/** Attaches to an existing ring from its buffer alone; a foreign buffer fails with a clear error. */
export function attachRing(sab: SharedArrayBuffer): RingBuffer {
  return new RingBuffer(sab);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'object';
}
