/**
 * The byte layout of a batch, described once. BatchWriter and BatchReader name these constants;
 * no bare offset into a batch appears anywhere else.
 *
 * A batch is a dataset plus events; each event is a routing key, a timestamp and msgpack payload
 * bytes. Keys and timestamps live outside the payloads, so a router reads them (and forwards an
 * event by copying its payload's byte range) without decoding anything. All numbers are
 * little-endian; the batch starts 8-byte aligned (a ring payload or the writer's buffer) and its
 * length is a multiple of 8, so batches can also be laid end to end.
 *
 *   byte 0   ┌────────────────────────────────────────────────────────────────────────────┐
 *            │ MAGIC u32 │ VERSION u16 │ RESERVED u16 (0) │ BYTE_LENGTH u32 │ COUNT u32     │
 *   byte 16  │ KEY_COUNT u32 │ PAYLOADS_LENGTH u32 │ DATASET_LENGTH u32 │ STRINGS_LENGTH u32│
 *   byte 32  │ STRUCTURES_VERSION u32 │ STRUCTURES_FINGERPRINT u32                          │
 *   byte 40  ├────────────────────────────────────────────────────────────────────────────┤
 *            │ payloads: PAYLOADS_LENGTH bytes; payload i starts 8-byte aligned            │
 *            │   [start(i), end(i)), start(0) = 0, start(i) = align8(end(i - 1))           │
 *   table    ├────────────────────────────────────────────────────────────────────────────┤
 *            │ COUNT entries of 16 bytes:                                                  │
 *            │   TIMESTAMP f64 │ KEY_INDEX u32 │ PAYLOAD_END u32 (relative to byte 40)     │
 *   key ends ├────────────────────────────────────────────────────────────────────────────┤
 *            │ KEY_COUNT u32: end of key k in the strings (key k starts where k - 1 ends,  │
 *            │   key 0 where the dataset ends)                                             │
 *   strings  ├────────────────────────────────────────────────────────────────────────────┤
 *            │ UTF-8: the dataset, then each distinct routing key once                     │
 *            ├────────────────────────────────────────────────────────────────────────────┤
 *            │ zero pad to a multiple of 8 = BYTE_LENGTH                                   │
 *            └────────────────────────────────────────────────────────────────────────────┘
 *
 *   table    = 40 + align8(PAYLOADS_LENGTH)
 *   key ends = table + 16 × COUNT
 *   strings  = key ends + 4 × KEY_COUNT
 *   BYTE_LENGTH = align8(strings + STRINGS_LENGTH)
 *
 * Why payloads come first: the writer encodes each event with msgpackr straight into its final
 * place and appends the table at `finish`, so no payload byte is ever moved; the table's size is
 * not known until the last event. Why payloads start 8-byte aligned: msgpackr's `pack` aligns its
 * start position to 8 by itself, so encoding in place leaves aligned payloads anyway, and a
 * rule costs nothing while it lets an entry carry only its end (16 bytes, not 24, per event).
 * Why one table of 16-byte entries: the timestamp stays 8-byte aligned and the three fields a
 * router reads per event share one cache line pair.
 *
 * STRUCTURES_VERSION and STRUCTURES_FINGERPRINT name the msgpackr record structures the payloads
 * were encoded with (see codec.ts); decoding under other structures is refused, not guessed at.
 */

/** "SBBT", read as a little-endian u32. */
export const BATCH_MAGIC = 0x54424253;
export const BATCH_LAYOUT_VERSION = 1;

/** Byte offsets of the header fields. */
export const MAGIC_OFFSET = 0;
export const VERSION_OFFSET = 4;
export const RESERVED_OFFSET = 6;
export const BYTE_LENGTH_OFFSET = 8;
export const COUNT_OFFSET = 12;
export const KEY_COUNT_OFFSET = 16;
export const PAYLOADS_LENGTH_OFFSET = 20;
export const DATASET_LENGTH_OFFSET = 24;
export const STRINGS_LENGTH_OFFSET = 28;
export const STRUCTURES_VERSION_OFFSET = 32;
export const STRUCTURES_FINGERPRINT_OFFSET = 36;
export const HEADER_LENGTH = 40;

/** Where the payloads start. */
export const PAYLOADS_OFFSET = HEADER_LENGTH;

/** One event's table entry. */
export const ENTRY_LENGTH = 16;
export const ENTRY_TIMESTAMP_OFFSET = 0;
export const ENTRY_KEY_INDEX_OFFSET = 8;
export const ENTRY_PAYLOAD_END_OFFSET = 12;

/** One key's end offset in the key-ends block. */
export const KEY_END_LENGTH = 4;

export const BATCH_ALIGNMENT = 8;

/** The largest value any u32 field can hold; also the largest batch. */
export const MAX_U32 = 0xffffffff;

/** Rounds up to a multiple of 8; exact for any integer below 2^53 (`& 7` keeps the low bits). */
export function align8(n: number): number {
  return n + (-n & (BATCH_ALIGNMENT - 1));
}

/** Offsets of the blocks after the payloads, relative to the batch's first byte. */
export interface BatchSections {
  table: number;
  keyEnds: number;
  strings: number;
  byteLength: number;
}

/**
 * Where the table, key ends and strings sit, from the header's four sizes. The arithmetic is in
 * doubles, so corrupt u32 sizes cannot wrap around; callers compare `byteLength` with what they have.
 */
export function batchSections(payloadsLength: number, count: number, keyCount: number, stringsLength: number): BatchSections {
  const table = PAYLOADS_OFFSET + align8(payloadsLength);
  const keyEnds = table + ENTRY_LENGTH * count;
  const strings = keyEnds + KEY_END_LENGTH * keyCount;
  return { table, keyEnds, strings, byteLength: align8(strings + stringsLength) };
}

/** The same total as `batchSections(...).byteLength`, without the object: the writer asks per event. */
export function batchByteLength(payloadsLength: number, count: number, keyCount: number, stringsLength: number): number {
  return align8(PAYLOADS_OFFSET + align8(payloadsLength) + ENTRY_LENGTH * count + KEY_END_LENGTH * keyCount + stringsLength);
}
