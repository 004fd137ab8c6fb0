/**
 * Builds batches (layout in batch-layout.ts) in one reusable buffer: begin, add events, finish.
 *
 * The buffer grows on demand up to a hard `maxBytes` per batch (plus msgpackr's encoding
 * headroom), so a writer's memory is bounded whatever it is fed. Events are encoded by msgpackr
 * straight into their final place; forwarded events are one byte-range copy. Per event, the hot
 * path allocates nothing but what msgpackr allocates to encode, and the one short-lived view of a
 * forwarded payload's source range (see `tryAdd`).
 *
 * A full batch is a return value (`tryAdd*` give false: finish it and begin another); an event that
 * cannot fit even an empty batch, or `add*` on a full one, is an exception naming both sizes.
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
  batchByteLength,
  batchSections,
} from './batch-layout.js';
import { encodeError, optionsError, stateError, structuresMismatchError, tooLargeError } from './codec-errors.js';
import type { BatchReader } from './batch-reader.js';
import type { BufferPool } from './buffer-pool.js';
import type { Codec } from './codec.js';

/** 1 MiB: the default hard limit of one batch. */
export const DEFAULT_MAX_BATCH_BYTES = 1 << 20;
/** msgpackr aligns its positions with `& 0x7ffffff8`, and a ring's largest record is far smaller. */
const MAX_MAX_BYTES = 1 << 30;
const MIN_MAX_BYTES = 64;
const DEFAULT_INITIAL_BYTES = 64 * 1024;

export interface BatchWriterOptions {
  /** Hard limit of one finished batch, header to padding. Default 1 MiB, at most 1 GiB. */
  maxBytes?: number;
  /** Bytes allocated up front; the buffer doubles from there up to what maxBytes needs. */
  initialBytes?: number;
  /**
   * Where the batch buffer comes from: taken from the pool at its size class, given back when it
   * grows and on `release()`. Without one the writer allocates its own and keeps what it grew to.
   * With one, a writer reused for a small batch after a large one holds a small buffer, and growth
   * reuses buffers instead of making ArrayBuffers (external memory, which V8 answers with full
   * GCs): Logreceiver's demux, a writer per open job.
   */
  pool?: BufferPool;
}

const EMPTY = Buffer.alloc(0);

const IDLE = 0;
const OPEN = 1;
const FINISHED = 2;

export class BatchWriter {
  readonly codec: Codec;
  readonly maxBytes: number;
  /** The batch being built: header (written at finish), then payloads from PAYLOADS_OFFSET. */
  private buf: Buffer;
  /** The same memory as a plain Uint8Array: what finish returns (Buffer's slice() is no copy). */
  private bytes: Uint8Array;
  private view: DataView;
  /** Table entries, appended after the payloads at finish. */
  private table: Buffer;
  private tableView: DataView;
  /** UTF-8 of the dataset, then of each distinct key. */
  private strings: Buffer;
  private readonly keyEnds: number[] = [];
  /** Distinct keys of this batch and their indices; cleared by begin, so bounded by the batch. */
  private readonly keys = new Map<string, number>();
  /** The key of the last event and its index: events of one zone come in runs, and a Map lookup per event showed in profiles. */
  private lastKey: string | null = null;
  private lastKeyIndex = 0;
  /**
   * Keys of plain digits (zones) forwarded by tryForward, by their number: the reader then makes no
   * string of them (a string is two cache misses in its table of remembered keys: ~9% of
   * Logreceiver's samples in bench:pipeline). Once a batch has one, every plain-digits key of the
   * batch is kept here, whichever method adds it, so no key is in the batch twice.
   */
  private readonly zoneKeys = new Map<number, number>();
  private lastZone = -1;
  private lastZoneIndex = 0;
  /** The zone of the key being added (set by indexOfKey or tryForward), or -1 for a string key. */
  private keyZone = -1;
  private state = IDLE;
  private datasetName = '';
  private datasetLength = 0;
  private stringsLength = 0;
  private eventCount = 0;
  /** End of the last payload, relative to PAYLOADS_OFFSET. */
  private payloadsEnd = 0;
  private finishedLength = 0;
  private readonly pool: BufferPool | null;
  private readonly initialBytes: number;

  constructor(codec: Codec, options: BatchWriterOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BATCH_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < MIN_MAX_BYTES || maxBytes > MAX_MAX_BYTES) {
      throw optionsError(`maxBytes must be an integer from ${MIN_MAX_BYTES} to ${MAX_MAX_BYTES}, got ${maxBytes}`);
    }
    const initial = options.initialBytes ?? Math.min(DEFAULT_INITIAL_BYTES, maxBytes);
    if (!Number.isInteger(initial) || initial < 0 || initial > maxBytes) {
      throw optionsError(`initialBytes must be an integer from 0 to maxBytes (${maxBytes}), got ${initial}`);
    }
    this.codec = codec;
    this.maxBytes = maxBytes;
    // A Buffer, not a plain Uint8Array: msgpackr writes long strings with Buffer's utf8Write.
    // No encode headroom up front: tryAddEvent makes room for it when it encodes (a forwarding
    // writer, as Logreceiver's, never needs it).
    this.pool = options.pool ?? null;
    this.initialBytes = align8(Math.max(initial, HEADER_LENGTH));
    // With a pool, the buffer is taken at begin (of the size it asks for).
    this.buf = this.pool === null ? zeroed(this.initialBytes) : EMPTY;
    this.bytes = plainView(this.buf);
    this.view = dataViewOf(this.buf);
    this.table = zeroed(1024);
    this.tableView = dataViewOf(this.table);
    this.strings = zeroed(256);
  }

  /**
   * Starts a new batch of `dataset`, dropping any unfinished one. The last finish() view ends here.
   * A writer that released its buffer takes one of `initialBytes` (default: the constructor's).
   */
  begin(dataset: string, initialBytes = this.initialBytes): this {
    const length = utf8Length(dataset);
    if (length < 0) throw encodeError(`dataset ${JSON.stringify(dataset)} holds a lone surrogate and has no UTF-8 form`);
    const empty = batchByteLength(0, 0, 0, length);
    if (empty > this.maxBytes) {
      throw tooLargeError(`dataset name of ${length} bytes makes an empty batch of ${empty} bytes, over maxBytes of ${this.maxBytes}`);
    }
    this.keys.clear();
    this.lastKey = null;
    this.zoneKeys.clear();
    this.lastZone = -1;
    this.keyEnds.length = 0;
    this.eventCount = 0;
    this.payloadsEnd = 0;
    this.finishedLength = 0;
    this.datasetName = dataset;
    this.datasetLength = length;
    this.stringsLength = 0;
    this.appendString(dataset, length);
    if (this.buf.length === 0) this.setBuffer(this.newBuffer(align8(Math.min(Math.max(initialBytes, HEADER_LENGTH), this.maxBytes))));
    this.state = OPEN;
    return this;
  }

  /**
   * Gives the batch buffer back to the pool (a writer made with one; otherwise nothing happens):
   * the last finish() view ends here, and the next begin takes a buffer again.
   */
  release(): void {
    if (this.pool === null || this.buf.length === 0) return;
    this.pool.give(this.buf);
    this.setBuffer(EMPTY);
    this.state = IDLE;
  }

  get dataset(): string {
    return this.datasetName;
  }

  /** Events added since begin. */
  get count(): number {
    return this.eventCount;
  }

  /** Bytes this writer holds for its batch (its buffers' sizes), whatever is in them. */
  get capacityBytes(): number {
    return this.buf.length + this.table.length + this.strings.length;
  }

  /** The size the batch has once finished (exactly; it is what a ring slot must hold). */
  get byteLength(): number {
    if (this.state === FINISHED) return this.finishedLength;
    if (this.state === IDLE) return 0;
    return batchByteLength(this.payloadsEnd, this.eventCount, this.keyEnds.length, this.stringsLength);
  }

  /**
   * Adds an event whose payload is `length` msgpack bytes of `bytes` from `offset` (the whole of
   * `bytes` by default), copied as they are: use it to forward a payload without re-encoding.
   * Returns false when the batch is full (nothing added); throws ERR_CODEC_TOO_LARGE when the event
   * would not fit even an empty batch.
   */
  tryAdd(key: string, timestamp: number, bytes: Uint8Array, offset = 0, length = bytes.length - offset): boolean {
    this.checkOpen();
    if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= bytes.length)) {
      throw encodeError(`payload range ${offset}..${offset + length} is outside the ${bytes.length} bytes given`);
    }
    const keyIndex = this.indexOfKey(key);
    const newKeyLength = keyIndex === undefined ? this.newKeyLength(key) : 0;
    const start = align8(this.payloadsEnd);
    if (!this.fits(start + length, keyIndex === undefined, newKeyLength, key)) return false;
    const at = PAYLOADS_OFFSET + start;
    this.ensureCapacity(at + length);
    // One view of the source range per event: a word loop that avoids it copied 500-byte payloads
    // at 2.0 M/s against 4.3 M/s for set(subarray) (from SharedArrayBuffer memory, on this machine).
    // A plain Uint8Array view, never Buffer#subarray (Node's JS subarray and FastBuffer class):
    // 340-byte copies from shared memory took ~270 ns against ~420 ns.
    // A whole array (the generator's templates) is copied without a view: no garbage per event.
    if (length > 0) this.buf.set(offset === 0 && length === bytes.length ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset + offset, length), at);
    this.commit(key, keyIndex, newKeyLength, timestamp, start + length);
    return true;
  }

  /**
   * `tryAdd` with a zone id for its key (the edge generator's events): the same bytes as
   * `tryAdd(String(zone), ...)`, with no string made and no string compared or hashed per event.
   * The key is found by number, as `tryForward` finds a forwarded zone (see zoneKeys); a batch
   * that holds string keys and no zones, or a zone of more than 15 digits, takes the string path.
   */
  tryAddZone(zone: number, timestamp: number, bytes: Uint8Array): boolean {
    if (this.state !== OPEN) this.checkOpen();
    if (!(Number.isSafeInteger(zone) && zone >= 0)) throw encodeError(`zone key must be a non-negative safe integer, got ${zone}`);
    if (zone >= MAX_PLAIN_NUMBER || (this.keys.size > 0 && this.zoneKeys.size === 0)) return this.tryAdd(String(zone), timestamp, bytes);
    const keyIndex = this.zoneKeyIndex(zone);
    const newKeyLength = keyIndex === undefined ? digitCount(zone) : 0;
    const length = bytes.length;
    const start = align8(this.payloadsEnd);
    const total = batchByteLength(start + length, this.eventCount + 1, this.keyEnds.length + (keyIndex === undefined ? 1 : 0), this.stringsLength + newKeyLength);
    if (total > this.maxBytes && !this.fits(start + length, keyIndex === undefined, newKeyLength, String(zone))) return false;
    const at = PAYLOADS_OFFSET + start;
    if (at + length > this.buf.length) this.ensureCapacity(at + length);
    if (length > 0) this.buf.set(bytes, at);
    this.commit(null, keyIndex, newKeyLength, timestamp, start + length);
    return true;
  }

  /** `tryAdd`, throwing ERR_CODEC_TOO_LARGE instead of returning false. */
  add(key: string, timestamp: number, bytes: Uint8Array, offset = 0, length = bytes.length - offset): void {
    if (!this.tryAdd(key, timestamp, bytes, offset, length)) throw this.fullError(length, key);
  }

  /**
   * Encodes `event` with the codec straight into the batch. Returns false when the batch is full
   * (nothing added; the event was encoded for nothing, once per batch); throws ERR_CODEC_TOO_LARGE
   * when it would not fit even an empty batch, ERR_CODEC_ENCODE when msgpackr cannot encode it.
   */
  tryAddEvent(key: string, timestamp: number, event: unknown): boolean {
    this.checkOpen();
    const keyIndex = this.indexOfKey(key);
    const newKeyLength = keyIndex === undefined ? this.newKeyLength(key) : 0;
    const start = align8(this.payloadsEnd);
    // Not even an empty payload fits: do not encode at all.
    if (!this.fits(start, keyIndex === undefined, newKeyLength, key)) return false;
    const at = PAYLOADS_OFFSET + start;
    const headroom = this.codec.encodeHeadroom;
    this.ensureCapacity(at + headroom);
    let end = this.codec.encodeAt(this.buf, at, event);
    if (end < 0) {
      // Larger than the headroom: msgpackr spilled into a buffer of its own. Make room, copy it over.
      if (!this.fits(start - end, keyIndex === undefined, newKeyLength, key)) return false;
      this.ensureCapacity(at - end);
      end = this.codec.copySpill(this.buf, at);
    }
    const length = end - at;
    if (!this.fits(start + length, keyIndex === undefined, newKeyLength, key)) return false;
    this.commit(key, keyIndex, newKeyLength, timestamp, start + length);
    return true;
  }

  /** `tryAddEvent`, throwing ERR_CODEC_TOO_LARGE instead of returning false. */
  addEvent(key: string, timestamp: number, event: unknown): void {
    if (!this.tryAddEvent(key, timestamp, event)) throw this.fullError(-1, key);
  }

  /**
   * Forwards event `index` of `reader`'s batch: its key, timestamp and payload bytes, no decoding.
   * Refuses (ERR_CODEC_STRUCTURES) a batch encoded with other structures than this writer's codec.
   */
  tryAddFrom(reader: BatchReader, index: number): boolean {
    if (reader.structuresFingerprint !== this.codec.fingerprint || reader.structuresVersion !== this.codec.version) {
      throw structuresMismatchError(
        { version: reader.structuresVersion, fingerprint: reader.structuresFingerprint },
        { version: this.codec.version, fingerprint: this.codec.fingerprint },
      );
    }
    return this.tryAdd(reader.key(index), reader.timestamp(index), reader.bytes, reader.payloadOffset(index), reader.payloadLength(index));
  }

  /**
   * `tryAddFrom` for a router that forwards event after event into its writers (Logreceiver's
   * demux): returns the batch's byteLength with the event in it, or -1 when the batch is full
   * (nothing added), so the caller reads no getter per event; the payload range comes from the
   * reader's checked table, so it is not validated again.
   */
  tryForward(reader: BatchReader, index: number): number {
    if (this.state !== OPEN) this.checkOpen();
    if (reader.structuresFingerprint !== this.codec.fingerprint || reader.structuresVersion !== this.codec.version) return this.tryAddFrom(reader, index) ? this.byteLength : -1;
    const length = reader.payloadLength(index);
    const k = reader.keyIndex(index);
    // A batch that holds string keys and no zones keeps every key a string (see zoneKeys).
    const zone = this.keys.size === 0 || this.zoneKeys.size > 0 ? reader.keyNumber(k) : -1;
    let key: string | null = null;
    let keyIndex: number | undefined;
    let newKeyLength: number;
    if (zone >= 0) {
      keyIndex = this.zoneKeyIndex(zone);
      newKeyLength = keyIndex === undefined ? digitCount(zone) : 0;
    } else {
      key = reader.keyByIndex(k);
      keyIndex = this.indexOfKey(key);
      newKeyLength = keyIndex === undefined ? this.newKeyLength(key) : 0;
    }
    const start = align8(this.payloadsEnd);
    const total = batchByteLength(start + length, this.eventCount + 1, this.keyEnds.length + (keyIndex === undefined ? 1 : 0), this.stringsLength + newKeyLength);
    // Over maxBytes: fits() says whether an empty batch would take it (and throws when not).
    if (total > this.maxBytes && !this.fits(start + length, keyIndex === undefined, newKeyLength, key ?? String(zone))) return -1;
    const at = PAYLOADS_OFFSET + start;
    if (at + length > this.buf.length) this.ensureCapacity(at + length);
    if (length > 0) reader.copyPayload(index, this.buf, at);
    this.commit(key, keyIndex, newKeyLength, reader.timestamp(index), start + length);
    return total;
  }

  /** `tryAddFrom`, throwing ERR_CODEC_TOO_LARGE instead of returning false. */
  addFrom(reader: BatchReader, index: number): void {
    if (!this.tryAddFrom(reader, index)) throw this.fullError(reader.payloadLength(index), reader.key(index));
  }

  /**
   * Completes the batch and returns it: a view into this writer's buffer, valid until the next
   * begin. Copy it into a claimed ring slot (or use writeTo). Never hand it to postMessage: that
   * clones the whole underlying buffer; post `finish().slice()` if a message must carry it.
   */
  finish(): Uint8Array {
    if (this.state === FINISHED) return this.bytes.subarray(0, this.finishedLength);
    this.checkOpen();
    const count = this.eventCount;
    const keyCount = this.keyEnds.length;
    const { table, keyEnds, strings, byteLength } = batchSections(this.payloadsEnd, count, keyCount, this.stringsLength);
    // The last growth of a batch: to its size and an eighth, not double. A batch made ready at
    // 64 KiB needs its table after the payloads; doubling there left Logreceiver's writers at
    // 128 KiB, twice what a pool bounded by bytes could keep for its open jobs.
    this.ensureCapacity(byteLength, true);
    const buf = this.buf;
    const view = this.view;
    // Zero every pad, so a batch never carries bytes of an earlier one.
    buf.fill(0, PAYLOADS_OFFSET + this.payloadsEnd, table);
    buf.set(this.table.subarray(0, count * ENTRY_LENGTH), table);
    for (let k = 0; k < keyCount; k++) view.setUint32(keyEnds + k * KEY_END_LENGTH, this.keyEnds[k]!, true);
    buf.set(this.strings.subarray(0, this.stringsLength), strings);
    buf.fill(0, strings + this.stringsLength, byteLength);
    view.setUint32(MAGIC_OFFSET, BATCH_MAGIC, true);
    view.setUint16(VERSION_OFFSET, BATCH_LAYOUT_VERSION, true);
    view.setUint16(RESERVED_OFFSET, 0, true);
    view.setUint32(BYTE_LENGTH_OFFSET, byteLength, true);
    view.setUint32(COUNT_OFFSET, count, true);
    view.setUint32(KEY_COUNT_OFFSET, keyCount, true);
    view.setUint32(PAYLOADS_LENGTH_OFFSET, this.payloadsEnd, true);
    view.setUint32(DATASET_LENGTH_OFFSET, this.datasetLength, true);
    view.setUint32(STRINGS_LENGTH_OFFSET, this.stringsLength, true);
    view.setUint32(STRUCTURES_VERSION_OFFSET, this.codec.version, true);
    view.setUint32(STRUCTURES_FINGERPRINT_OFFSET, this.codec.fingerprint, true);
    this.finishedLength = byteLength;
    this.state = FINISHED;
    return this.bytes.subarray(0, byteLength);
  }

  /** Finishes the batch and copies it into `target` at `offset` (a claimed ring slot); returns its length. */
  writeTo(target: Uint8Array, offset: number): number {
    const batch = this.finish();
    if (!(Number.isInteger(offset) && offset >= 0 && offset + batch.length <= target.length)) {
      throw tooLargeError(`batch of ${batch.length} bytes does not fit at offset ${offset} of a target of ${target.length} bytes`);
    }
    target.set(batch, offset);
    return batch.length;
  }

  private checkOpen(): void {
    if (this.state !== OPEN) {
      throw stateError(this.state === IDLE ? 'add before begin: call begin(dataset) first' : 'add after finish: call begin(dataset) for the next batch');
    }
  }

  /** UTF-8 length of a key not yet in this batch (validated: it must survive the round trip). */
  private newKeyLength(key: string): number {
    const length = utf8Length(key);
    if (length < 0) throw encodeError(`routing key ${JSON.stringify(key)} holds a lone surrogate and has no UTF-8 form`);
    return length;
  }

  /**
   * Whether the batch, with one more event whose payload ends at `payloadsEnd`, stays within
   * maxBytes. Throws when the event would not fit an empty batch either: no retry can place it.
   */
  private fits(payloadsEnd: number, newKey: boolean, newKeyLength: number, key: string): boolean {
    const keyCount = this.keyEnds.length + (newKey ? 1 : 0);
    const total = batchByteLength(payloadsEnd, this.eventCount + 1, keyCount, this.stringsLength + newKeyLength);
    if (total <= this.maxBytes) return true;
    const payloadLength = payloadsEnd - align8(this.payloadsEnd);
    const keyLength = newKey ? newKeyLength : utf8Length(key);
    const alone = batchByteLength(payloadLength, 1, 1, this.datasetLength + keyLength);
    if (alone > this.maxBytes) {
      throw tooLargeError(
        `event with a payload of ${payloadLength} bytes and a key of ${keyLength} bytes needs a batch of ${alone} bytes ` +
          `on its own, over maxBytes of ${this.maxBytes}`,
      );
    }
    return false;
  }

  private fullError(payloadLength: number, key: string): Error {
    const payload = payloadLength >= 0 ? `a payload of ${payloadLength} bytes` : 'the encoded event';
    return tooLargeError(
      `batch of ${this.byteLength} bytes (${this.eventCount} events) has no room for ${payload} with key ${JSON.stringify(key)} ` +
        `within maxBytes of ${this.maxBytes}; finish it and begin another`,
    );
  }

  /** The index of zone key `zone` in this batch, or undefined when it is new; the key being added is that zone (commit). */
  private zoneKeyIndex(zone: number): number | undefined {
    this.keyZone = zone;
    return zone === this.lastZone ? this.lastZoneIndex : this.zoneKeys.get(zone);
  }

  /** The key's index in this batch, or undefined for a key not in it yet. */
  private indexOfKey(key: string): number | undefined {
    this.keyZone = -1;
    if (key === this.lastKey) return this.lastKeyIndex;
    if (this.zoneKeys.size > 0) {
      const zone = plainNumber(key);
      if (zone >= 0) {
        this.keyZone = zone;
        return this.zoneKeys.get(zone);
      }
    }
    return this.keys.get(key);
  }

  /** Records an event whose payload already sits in place and ends at `payloadsEnd`. */
  private commit(key: string | null, keyIndex: number | undefined, newKeyLength: number, timestamp: number, payloadsEnd: number): void {
    const zone = this.keyZone;
    if (keyIndex === undefined) {
      keyIndex = this.keyEnds.length;
      if (zone >= 0) this.zoneKeys.set(zone, keyIndex);
      else this.keys.set(key!, keyIndex);
      if (key === null) this.appendDigits(zone, newKeyLength);
      else this.appendString(key, newKeyLength);
      this.keyEnds.push(this.stringsLength);
    }
    if (key !== null) {
      this.lastKey = key;
      this.lastKeyIndex = keyIndex;
    }
    if (zone >= 0) {
      this.lastZone = zone;
      this.lastZoneIndex = keyIndex;
    }
    // At most 7 bytes of padding: stores, not a call into Buffer's fill.
    const buf = this.buf;
    for (let gap = PAYLOADS_OFFSET + this.payloadsEnd, gapEnd = PAYLOADS_OFFSET + align8(this.payloadsEnd); gap < gapEnd; gap++) buf[gap] = 0;
    const entry = this.eventCount * ENTRY_LENGTH;
    if (entry + ENTRY_LENGTH > this.table.length) {
      this.table = grow(this.table, Math.max(entry + ENTRY_LENGTH, this.table.length * 2));
      this.tableView = dataViewOf(this.table);
    }
    const table = this.tableView;
    table.setFloat64(entry + ENTRY_TIMESTAMP_OFFSET, timestamp, true);
    table.setUint32(entry + ENTRY_KEY_INDEX_OFFSET, keyIndex, true);
    table.setUint32(entry + ENTRY_PAYLOAD_END_OFFSET, payloadsEnd, true);
    this.payloadsEnd = payloadsEnd;
    this.eventCount++;
  }

  private appendString(value: string, length: number): void {
    const at = this.stringsLength;
    const end = at + length;
    if (end > this.strings.length) this.strings = grow(this.strings, Math.max(end, this.strings.length * 2), at);
    const strings = this.strings;
    // Routing keys are short and mostly ASCII: a loop beats a call into Buffer's UTF-8 writer.
    if (length === value.length) for (let i = 0; i < length; i++) strings[at + i] = value.charCodeAt(i);
    else strings.write(value, at, length, 'utf8');
    this.stringsLength = end;
  }

  /** Appends the `length` decimal digits of `zone`. */
  private appendDigits(zone: number, length: number): void {
    const at = this.stringsLength;
    const end = at + length;
    if (end > this.strings.length) this.strings = grow(this.strings, Math.max(end, this.strings.length * 2), at);
    const strings = this.strings;
    let n = zone;
    for (let i = end - 1; i >= at; i--) {
      const q = Math.floor(n / 10);
      strings[i] = 0x30 + (n - q * 10);
      n = q;
    }
    this.stringsLength = end;
  }

  /** A buffer of `size` bytes: from the pool (its contents stale until written), or zeroed. */
  private newBuffer(size: number): Buffer {
    if (this.pool === null) return zeroed(size);
    const ab = this.pool.take(size);
    return Buffer.from(ab, 0, ab.byteLength);
  }

  private setBuffer(buf: Buffer): void {
    this.buf = buf;
    this.bytes = plainView(buf);
    this.view = dataViewOf(buf);
  }

  /**
   * Grows the batch buffer to hold `bytes` (by doubling, or with `fit` to `bytes` and an eighth);
   * callers never ask past maxBytes + the encoding headroom.
   */
  private ensureCapacity(bytes: number, fit = false): void {
    if (bytes <= this.buf.length) return;
    const limit = align8(this.maxBytes) + this.codec.encodeHeadroom;
    const size = Math.min(fit ? align8(bytes + (bytes >>> 3)) : Math.max(bytes, this.buf.length * 2), limit);
    if (size < bytes) throw tooLargeError(`batch buffer asked for ${bytes} bytes, past its limit of ${limit} (maxBytes ${this.maxBytes})`);
    const next = this.newBuffer(size);
    next.set(this.buf.subarray(0, PAYLOADS_OFFSET + this.payloadsEnd));
    this.pool?.give(this.buf);
    this.setBuffer(next);
  }
}

/**
 * UTF-8 length of `s`, or -1 when it holds a lone surrogate: that has no UTF-8 form (an encoder
 * writes U+FFFD instead), so the key read back would differ from the key written.
 */
function utf8Length(s: string): number {
  let length = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c < 0xd800 || c > 0xdfff) length += 3;
    else if (c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 4;
      i++;
    } else return -1;
  }
  return length;
}

/** Decimal digits of `n`, a non-negative integer. */
function digitCount(n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  return digits;
}

/** Numbers from here on have more than 15 digits: their keys are strings (BatchReader.keyNumber's rule). */
const MAX_PLAIN_NUMBER = 1e15;

/** `key` as a number when it is plain digits (no leading zero, at most 15; BatchReader.keyNumber's rule), else -1. */
function plainNumber(key: string): number {
  const length = key.length;
  if (length === 0 || length > 15 || (length > 1 && key.charCodeAt(0) === 0x30)) return -1;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const digit = key.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/** A zeroed buffer of `size` bytes holding the first `keep` bytes of `from`. */
/**
 * `size` zeroed bytes. Under 4 KiB they come from Node's shared allocation pool (a slice of an
 * 8 KiB ArrayBuffer) instead of an ArrayBuffer of their own: Logreceiver makes a writer per job
 * with pending events, and a burst over 10,000 new jobs spent most of its time (and ~19 KB a job)
 * allocating three ArrayBuffers per writer.
 */
function zeroed(size: number): Buffer {
  return Buffer.allocUnsafe(size).fill(0);
}

function grow(from: Buffer, size: number, keep = from.length): Buffer {
  const to = zeroed(size);
  to.set(from.subarray(0, keep));
  return to;
}

function plainView(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function dataViewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
