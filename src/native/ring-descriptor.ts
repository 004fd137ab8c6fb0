/**
 * The byte layout of a ring's SharedArrayBuffer, described once (after Agrona's
 * RingBufferDescriptor and RecordDescriptor). Every other file names these constants; no bare
 * index into the ring's Int32Array appears anywhere else.
 *
 *   byte 0    ┌──────────────────────────────────────────────────────────────┐
 *             │ MAGIC i32 │ VERSION i32 │ CAPACITY i32 │ KIND i32            │ header line
 *   byte 128  ├──────────────────────────────────────────────────────────────┤
 *             │ TAIL i32   producer → consumer: bytes committed (mod 2^32)   │
 *   byte 256  ├──────────────────────────────────────────────────────────────┤
 *             │ HEAD i32   consumer → producer: bytes released (mod 2^32)    │
 *   byte 384  ├──────────────────────────────────────────────────────────────┤
 *             │ DATA_SLEEPING i32 │ DATA_SEQ i32   doorbell: consumer sleeps  │
 *   byte 512  ├──────────────────────────────────────────────────────────────┤
 *             │ SPACE_SLEEPING i32 │ SPACE_SEQ i32  doorbell: producer sleeps │
 *   byte 640  ├──────────────────────────────────────────────────────────────┤
 *             │ reserved                                                     │
 *   byte 1024 ├──────────────────────────────────────────────────────────────┤
 *             │ data: CAPACITY bytes of records                              │
 *             └──────────────────────────────────────────────────────────────┘
 *
 * Each counter has a 128-byte line pair to itself, so producer and consumer never write the same
 * cache line (and the adjacent-line prefetcher does not pull them together).
 *
 * A record, 8-byte aligned, never split by the wrap:
 *
 *   ┌──────────────┬────────────┬───────────────────────┬─────────┐
 *   │ length i32   │ type i32   │ payload (length - 8)  │ pad to 8│
 *   └──────────────┴────────────┴───────────────────────┴─────────┘
 *
 * `length` counts header and payload, not the alignment pad. While a record is being written in
 * the many-to-one ring its length is negative; the ordered store that makes it positive publishes
 * it. A padding record (type PADDING_TYPE) fills the space up to the end of the data region when
 * the next record would not fit there, so every payload is one contiguous view.
 *
 * Positions (TAIL, HEAD) count bytes since the ring was created and wrap at 2^32; the distance
 * `(tail - head) >>> 0` stays exact because the capacity is at most 2^30.
 */

/** "SBRG" */
export const MAGIC = 0x53425247;
export const LAYOUT_VERSION = 1;

/** Byte offsets of the control words. */
export const MAGIC_OFFSET = 0;
export const VERSION_OFFSET = 4;
export const CAPACITY_OFFSET = 8;
export const KIND_OFFSET = 12;
export const TAIL_OFFSET = 128;
export const HEAD_OFFSET = 256;
export const DATA_SLEEPING_OFFSET = 384;
export const DATA_SEQ_OFFSET = 388;
export const SPACE_SLEEPING_OFFSET = 512;
export const SPACE_SEQ_OFFSET = 516;
export const DATA_OFFSET = 1024;

/** The same offsets as indices into an Int32Array over the whole buffer. */
export const MAGIC_INDEX = MAGIC_OFFSET >> 2;
export const VERSION_INDEX = VERSION_OFFSET >> 2;
export const CAPACITY_INDEX = CAPACITY_OFFSET >> 2;
export const KIND_INDEX = KIND_OFFSET >> 2;
export const TAIL_INDEX = TAIL_OFFSET >> 2;
export const HEAD_INDEX = HEAD_OFFSET >> 2;
export const DATA_SLEEPING_INDEX = DATA_SLEEPING_OFFSET >> 2;
export const DATA_SEQ_INDEX = DATA_SEQ_OFFSET >> 2;
export const SPACE_SLEEPING_INDEX = SPACE_SLEEPING_OFFSET >> 2;
export const SPACE_SEQ_INDEX = SPACE_SEQ_OFFSET >> 2;

/** Which producer discipline a ring was created for. */
export const KIND_ONE_TO_ONE = 1;
export const KIND_MANY_TO_ONE = 2;

/** Record header. */
export const RECORD_HEADER_LENGTH = 8;
export const RECORD_LENGTH_OFFSET = 0;
export const RECORD_TYPE_OFFSET = 4;
export const RECORD_ALIGNMENT = 8;
export const PADDING_TYPE = -1;

export const MIN_CAPACITY = 1024;
export const MAX_CAPACITY = 1 << 30;

export function align(value: number, alignment: number = RECORD_ALIGNMENT): number {
  return (value + alignment - 1) & ~(alignment - 1);
}

/** The largest record (header included) a ring of this capacity takes: an eighth, as in Agrona. */
export function maxRecordLength(capacity: number): number {
  return capacity >> 3;
}

/** The largest payload a ring of this capacity takes. */
export function maxPayloadLength(capacity: number): number {
  return maxRecordLength(capacity) - RECORD_HEADER_LENGTH;
}

export function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0;
}
