/**
 * Reads a batch (layout in batch-layout.ts) in place, typically a view into a ring's shared memory.
 *
 * `reset` checks the whole envelope once (header, every table entry, every key) and throws
 * ERR_CODEC_MALFORMED naming the values when anything is off, so a batch is either refused whole,
 * where it can be counted once as malformed, or every accessor after it is safe: a router that
 * forwards part of a batch never meets a bad entry half way. Keys, timestamps and payload ranges
 * are then plain reads, no decoding and no allocation. Payloads are decoded one by one, only when
 * asked (`decode`).
 *
 * Decoding copies the payloads out of shared memory first, once per batch, into a private buffer
 * reused across batches: msgpackr's native string extractor refuses SharedArrayBuffer memory
 * ("source must be an ArrayBuffer", so decoding a ring view directly throws), and its JS decoder,
 * which does accept it, ran at 0.55x of native decoding from an ArrayBuffer. With the copy, a
 * whole batch read from shared memory (reset, copy, decode every event) kept pace with plain
 * native decoding of the same events (1.02x; bench/results/codec.json). Batches in ordinary memory
 * are decoded in place.
 */

import {
  BATCH_LAYOUT_VERSION,
  BATCH_MAGIC,
  BYTE_LENGTH_OFFSET,
  COUNT_OFFSET,
  DATASET_LENGTH_OFFSET,
  ENTRY_KEY_INDEX_OFFSET,
  ENTRY_LENGTH,
  ENTRY_PAYLOAD_END_OFFSET,
  ENTRY_TIMESTAMP_OFFSET,
  HEADER_LENGTH,
  KEY_COUNT_OFFSET,
  KEY_END_LENGTH,
  MAGIC_OFFSET,
  PAYLOADS_LENGTH_OFFSET,
  PAYLOADS_OFFSET,
  RESERVED_OFFSET,
  STRINGS_LENGTH_OFFSET,
  STRUCTURES_FINGERPRINT_OFFSET,
  STRUCTURES_VERSION_OFFSET,
  VERSION_OFFSET,
  align8,
  batchSections,
} from './batch-layout.js';
import { hex32, indexError, keyIndexError, malformedError, structuresMismatchError } from './codec-errors.js';
import type { Codec } from './codec.js';

const EMPTY = new Uint8Array(0);
/** fatal: a key with invalid UTF-8 is a malformed batch, not a key with U+FFFD in it. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class BatchReader {
  readonly codec: Codec;
  private source: Uint8Array = EMPTY;
  private view: DataView = new DataView(new ArrayBuffer(0));
  private start = 0;
  private length = 0;
  private eventCount = 0;
  /**
   * The keys as strings, made when first asked for (keyByIndex, key): a router that reads zones as
   * numbers (keyNumber) or a stage that never reads keys (Logpush) makes none. Interning a key
   * (decodeString) is two cache misses, its slot and its string: ~80% of `reset`'s samples in
   * Logfwdr and Logreceiver when every key was made here.
   */
  private names: (string | undefined)[] = [];
  /** Each key's bytes in `source`: start, end. */
  private keySpans = new Int32Array(16);
  /** Keys of the current batch (names may hold more after a refused batch). */
  private keyTotal = 0;
  private datasetName = '';
  private version = 0;
  private fingerprint = 0;
  /** Absolute offsets in `source`. */
  private payloadsAt = 0;
  private payloadsLength = 0;
  private tableAt = 0;
  /** What decode reads from, payload 0 at index 0: the private copy, or the source itself. */
  private decodeSource: Uint8Array | null = null;
  /** payloadSource's view, made on its first call for the batch. */
  private payloads: Uint8Array | null = null;
  /** Private copy of shared-memory payloads; grows to the largest batch read (bounded by the ring's largest record). */
  private copy: Uint8Array = EMPTY;

  constructor(codec: Codec) {
    this.codec = codec;
  }

  /**
   * Points the reader at the batch in `bytes[offset, offset + length)` and checks its envelope
   * (throws ERR_CODEC_MALFORMED). The bytes must stay as they are until the next reset: views from
   * `payload` point into them, and decoding reads them once, at the first `decode`.
   */
  reset(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.clear();
    if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= bytes.length)) {
      throw malformedError(`batch range ${offset}..${offset + length} is outside the ${bytes.length} bytes given`);
    }
    if (length < HEADER_LENGTH) throw malformedError(`batch of ${length} bytes is shorter than its ${HEADER_LENGTH}-byte header`);
    // One DataView per distinct source (a ring's bytes are the same array for every batch).
    const view = bytes === this.source ? this.view : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.source = bytes;
    this.view = view;
    const magic = view.getUint32(offset + MAGIC_OFFSET, true);
    if (magic !== BATCH_MAGIC) throw malformedError(`batch magic is ${hex32(magic)}, not ${hex32(BATCH_MAGIC)}: not a Seatbelt batch`);
    const layout = view.getUint16(offset + VERSION_OFFSET, true);
    if (layout !== BATCH_LAYOUT_VERSION) throw malformedError(`batch layout version is ${layout}; this reader knows version ${BATCH_LAYOUT_VERSION}`);
    const reserved = view.getUint16(offset + RESERVED_OFFSET, true);
    if (reserved !== 0) throw malformedError(`batch reserved header field is ${reserved}, not 0`);
    const byteLength = view.getUint32(offset + BYTE_LENGTH_OFFSET, true);
    if (byteLength > length) throw malformedError(`batch header says ${byteLength} bytes but only ${length} are given (truncated)`);
    const count = view.getUint32(offset + COUNT_OFFSET, true);
    const keyCount = view.getUint32(offset + KEY_COUNT_OFFSET, true);
    const payloadsLength = view.getUint32(offset + PAYLOADS_LENGTH_OFFSET, true);
    const datasetLength = view.getUint32(offset + DATASET_LENGTH_OFFSET, true);
    const stringsLength = view.getUint32(offset + STRINGS_LENGTH_OFFSET, true);
    const sections = batchSections(payloadsLength, count, keyCount, stringsLength);
    if (sections.byteLength !== byteLength) {
      throw malformedError(
        `batch header says ${byteLength} bytes but its ${count} events, ${keyCount} keys, ${payloadsLength} payload bytes ` +
          `and ${stringsLength} string bytes take ${sections.byteLength}`,
      );
    }
    if (datasetLength > stringsLength) throw malformedError(`batch dataset of ${datasetLength} bytes overruns its ${stringsLength} string bytes`);
    const tableAt = offset + sections.table;
    checkEntries(view, tableAt, count, keyCount, payloadsLength);
    const names = this.names;
    names.length = keyCount;
    if (this.keySpans.length < 2 * keyCount) this.keySpans = new Int32Array(Math.max(2 * keyCount, 2 * this.keySpans.length));
    const spans = this.keySpans;
    const stringsAt = offset + sections.strings;
    const datasetName = decodeString(bytes, stringsAt, stringsAt + datasetLength, 'dataset');
    let keyStart = datasetLength;
    for (let k = 0; k < keyCount; k++) {
      const keyEnd = view.getUint32(offset + sections.keyEnds + k * KEY_END_LENGTH, true);
      if (keyEnd < keyStart || keyEnd > stringsLength) {
        throw malformedError(`batch key ${k} spans string bytes ${keyStart}..${keyEnd}, outside ${datasetLength}..${stringsLength}`);
      }
      const start = stringsAt + keyStart;
      const end = stringsAt + keyEnd;
      spans[2 * k] = start;
      spans[2 * k + 1] = end;
      // ASCII is valid UTF-8 and is made into a string when asked; anything else is checked (and made) now.
      names[k] = isAscii(bytes, start, end) ? undefined : decodeString(bytes, start, end, `key ${k}`);
      keyStart = keyEnd;
    }
    if (keyStart !== stringsLength) throw malformedError(`batch keys end at string byte ${keyStart}, but the strings take ${stringsLength}`);
    this.start = offset;
    this.length = byteLength;
    this.datasetName = datasetName;
    this.version = view.getUint32(offset + STRUCTURES_VERSION_OFFSET, true);
    this.fingerprint = view.getUint32(offset + STRUCTURES_FINGERPRINT_OFFSET, true);
    this.payloadsAt = offset + PAYLOADS_OFFSET;
    this.payloadsLength = payloadsLength;
    this.tableAt = tableAt;
    this.keyTotal = keyCount;
    this.eventCount = count;
    return this;
  }

  /** The bytes the batch sits in (as given to reset); payload offsets are indices into it. */
  get bytes(): Uint8Array {
    return this.source;
  }

  /** Where the batch starts in `bytes`. */
  get byteOffset(): number {
    return this.start;
  }

  /** The batch's length from its header (at most the length given to reset). */
  get byteLength(): number {
    return this.length;
  }

  get dataset(): string {
    return this.datasetName;
  }

  get count(): number {
    return this.eventCount;
  }

  /** Distinct routing keys in the batch. */
  get keyCount(): number {
    return this.keyTotal;
  }

  get structuresVersion(): number {
    return this.version;
  }

  get structuresFingerprint(): number {
    return this.fingerprint;
  }

  /** The routing key of event `i`. */
  key(i: number): string {
    const k = this.keyIndex(i);
    return this.names[k] ?? this.makeKey(k);
  }

  /** Event `i`'s key as an index below keyCount: group events by it, look the key up once. */
  keyIndex(i: number): number {
    this.check(i);
    return this.view.getUint32(this.tableAt + i * ENTRY_LENGTH + ENTRY_KEY_INDEX_OFFSET, true);
  }

  /** The key with index `k` (below keyCount). */
  keyByIndex(k: number): string {
    if (!(k >>> 0 === k && k < this.keyTotal)) throw keyIndexError(k, this.keyTotal);
    return this.names[k] ?? this.makeKey(k);
  }

  /**
   * The key with index `k` as a number when it is a plain decimal integer (digits, no leading zero,
   * at most 15: exactly what Number() makes of it), else -1 (read it with keyByIndex). No string.
   */
  keyNumber(k: number): number {
    if (!(k >>> 0 === k && k < this.keyTotal)) throw keyIndexError(k, this.keyTotal);
    const start = this.keySpans[2 * k]!;
    const end = this.keySpans[2 * k + 1]!;
    if (end === start || end - start > 15) return -1;
    const bytes = this.source;
    if (bytes[start] === 0x30 && end - start > 1) return -1;
    let n = 0;
    for (let i = start; i < end; i++) {
      const digit = bytes[i]! - 0x30;
      if (digit < 0 || digit > 9) return -1;
      n = n * 10 + digit;
    }
    return n;
  }

  private makeKey(k: number): string {
    const name = decodeString(this.source, this.keySpans[2 * k]!, this.keySpans[2 * k + 1]!, `key ${k}`);
    this.names[k] = name;
    return name;
  }

  timestamp(i: number): number {
    this.check(i);
    return this.view.getFloat64(this.tableAt + i * ENTRY_LENGTH + ENTRY_TIMESTAMP_OFFSET, true);
  }

  /** Where event `i`'s payload starts in `bytes`. */
  payloadOffset(i: number): number {
    this.check(i);
    return this.payloadsAt + this.payloadStart(i);
  }

  payloadLength(i: number): number {
    this.check(i);
    return this.payloadEnd(i) - this.payloadStart(i);
  }

  /**
   * Copies event `i`'s payload into `target` at `at`. One short-lived view of the source range, not
   * Buffer#subarray (Node's JS subarray and FastBuffer class: 340-byte copies from shared memory
   * took ~270 ns against ~420 ns).
   */
  copyPayload(i: number, target: Uint8Array, at: number): void {
    this.check(i);
    const start = this.payloadStart(i);
    const source = this.source;
    target.set(new Uint8Array(source.buffer, source.byteOffset + this.payloadsAt + start, this.payloadEnd(i) - start), at);
  }

  /** Event `i`'s msgpack bytes: a view into `bytes`, no copy. */
  payload(i: number): Uint8Array {
    const start = this.payloadOffset(i);
    return this.source.subarray(start, start + this.payloadLength(i));
  }

  /**
   * Decodes event `i`'s payload. Throws ERR_CODEC_STRUCTURES when the batch was encoded with other
   * structures than this reader's codec, ERR_CODEC_MALFORMED when the payload is not msgpack.
   */
  decode(i: number): unknown {
    this.check(i);
    const codec = this.codec;
    if (this.fingerprint !== codec.fingerprint || this.version !== codec.version) {
      throw structuresMismatchError({ version: this.version, fingerprint: this.fingerprint }, codec);
    }
    const source = this.decodeSource ?? this.prepareDecode();
    return codec.decode(source, this.payloadStart(i), this.payloadEnd(i), i);
  }

  /**
   * This batch's payloads, where they are (no copy: a view bounded to them, of shared memory for a
   * batch in a ring), or null when the batch was encoded with other structures than this reader's
   * codec (decode would throw). Event `i`'s payload is `[sourceStart(i), sourceEnd(i))` in it,
   * the bytes decode reads: for readers of payload bytes (the Logpush transcoder). It was decode's
   * copy of the payloads (prepareDecode), a copy of every batch that msgpackr needs and the
   * transcoder does not: ~4% of Logpush's samples in bench:pipeline's `--cpu-prof`.
   */
  payloadSource(): Uint8Array | null {
    const codec = this.codec;
    if (this.fingerprint !== codec.fingerprint || this.version !== codec.version) return null;
    const source = this.source;
    // A plain Uint8Array, not Buffer#subarray (Node's JS subarray and FastBuffer class).
    return (this.payloads ??= new Uint8Array(source.buffer, source.byteOffset + this.payloadsAt, this.payloadsLength));
  }

  sourceStart(i: number): number {
    this.check(i);
    return this.payloadStart(i);
  }

  sourceEnd(i: number): number {
    this.check(i);
    return this.payloadEnd(i);
  }

  private check(i: number): void {
    if (!(i >>> 0 === i && i < this.eventCount)) throw indexError(i, this.eventCount);
  }

  /** Start of payload `i`, relative to the payloads. */
  private payloadStart(i: number): number {
    return i === 0 ? 0 : align8(this.view.getUint32(this.tableAt + (i - 1) * ENTRY_LENGTH + ENTRY_PAYLOAD_END_OFFSET, true));
  }

  private payloadEnd(i: number): number {
    return this.view.getUint32(this.tableAt + i * ENTRY_LENGTH + ENTRY_PAYLOAD_END_OFFSET, true);
  }

  /**
   * Picks what decode reads, once per batch. The view is bounded to this batch's payloads, so
   * even a corrupt payload cannot make msgpackr read past them.
   */
  private prepareDecode(): Uint8Array {
    const { source, payloadsAt, payloadsLength } = this;
    let decodeSource: Uint8Array;
    if (source.buffer instanceof ArrayBuffer) {
      decodeSource = source.subarray(payloadsAt, payloadsAt + payloadsLength);
    } else {
      if (this.copy.length < payloadsLength) this.copy = new Uint8Array(Math.max(payloadsLength, this.copy.length * 2));
      this.copy.set(source.subarray(payloadsAt, payloadsAt + payloadsLength));
      decodeSource = this.copy.subarray(0, payloadsLength);
    }
    this.decodeSource = decodeSource;
    return decodeSource;
  }

  /** Forgets the current batch, so a failed reset leaves an empty reader, never half of one. */
  private clear(): void {
    this.eventCount = 0;
    this.keyTotal = 0;
    this.datasetName = '';
    this.version = 0;
    this.fingerprint = 0;
    this.start = 0;
    this.length = 0;
    this.payloadsAt = 0;
    this.payloadsLength = 0;
    this.tableAt = 0;
    this.decodeSource = null;
    this.payloads = null;
  }
}

/** Checks every table entry: its key index exists and its payload lies in order inside the payloads. */
function checkEntries(view: DataView, tableAt: number, count: number, keyCount: number, payloadsLength: number): void {
  let end = 0;
  for (let i = 0; i < count; i++) {
    const entry = tableAt + i * ENTRY_LENGTH;
    const keyIndex = view.getUint32(entry + ENTRY_KEY_INDEX_OFFSET, true);
    if (keyIndex >= keyCount) throw malformedError(`batch event ${i} names key ${keyIndex}, but the batch has ${keyCount} keys`);
    const start = align8(end);
    end = view.getUint32(entry + ENTRY_PAYLOAD_END_OFFSET, true);
    if (end < start || end > payloadsLength) {
      throw malformedError(`batch event ${i} payload spans ${start}..${end}, outside the ${payloadsLength} payload bytes`);
    }
  }
  if (end !== payloadsLength) throw malformedError(`batch payloads end at ${end}, but the header says ${payloadsLength} bytes`);
}

/**
 * Short ASCII strings seen lately (routing keys, dataset names), by a hash of their bytes: the
 * same keys (zones) come in batch after batch, and decoding each one in every batch (a subarray
 * and a string each) was the largest allocation of Logfwdr and Logreceiver (heap sampling in
 * bench:pipeline: ~36% and ~18% of their bytes). One table per thread, a fixed size: a slot holds
 * the last string that hashed there. Over the edge generator's 40,000 Zipf zones (a batch's
 * distinct keys lean to the rare ones) 8,192 slots found 54% of a batch's keys, 65,536 found 84%:
 * at most 512 KiB of slots and ~1.2 MB of strings a thread.
 */
const INTERN_SLOTS = 65_536;
const MAX_INTERN_BYTES = 32;
const interned: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);

function decodeString(bytes: Uint8Array, start: number, end: number, what: string): string {
  if (start === end) return '';
  if (end - start <= MAX_INTERN_BYTES) {
    let hash = 0x811c9dc5;
    let i = start;
    for (; i < end; i++) {
      const c = bytes[i]!;
      if (c >= 0x80) break;
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    if (i === end) {
      const slot = (hash >>> 0) & (INTERN_SLOTS - 1);
      const cached = interned[slot];
      if (cached !== undefined && sameAscii(cached, bytes, start, end)) return cached;
      // ASCII is UTF-8: the decoder below cannot fail on it.
      const text = utf8.decode(bytes.subarray(start, end));
      interned[slot] = text;
      return text;
    }
  }
  try {
    return utf8.decode(bytes.subarray(start, end));
  } catch (error) {
    throw malformedError(`batch ${what} (bytes ${start}..${end}) is not valid UTF-8`, error);
  }
}

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Whether `text` is exactly the ASCII bytes `bytes[start, end)`. */
function sameAscii(text: string, bytes: Uint8Array, start: number, end: number): boolean {
  if (text.length !== end - start) return false;
  for (let i = start; i < end; i++) if (text.charCodeAt(i - start) !== bytes[i]) return false;
  return true;
}
