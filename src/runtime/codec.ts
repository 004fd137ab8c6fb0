/**
 * The event codec: msgpackr with record structures agreed at spawn, plus the batch envelope
 * (batch-layout.ts, batch-writer.ts, batch-reader.ts) that carries its payloads.
 *
 * Why records: on the 30-field CDN event of bench/codec (~1 KB as JSON), records with shared
 * structures took 422 bytes against 901 for plain msgpack maps, and encoded 1.9x and decoded 6.4x
 * faster (253 k and 577 k events/s against 135 k and 90 k; bench/results/codec.json, a noisy shared
 * 2-core machine where other runs gave 1.7-1.9x and 4.9-6.8x): a record names its field list by a
 * one-byte id instead of repeating every key in every event.
 *
 * Why the structures are agreed at spawn, not carried per batch: the supervisor creates one
 * `CodecStructures` (an explicit, versioned list) and passes it to every worker in workerData; each
 * thread builds its `Codec` from it. Payload bytes then mean the same in every batch, so a router
 * merges events from the batches of several producers by copying byte ranges (2.1 M events/s read,
 * every second one forwarded); with a structure block per batch, the record ids of two batches'
 * blocks collide and merging means decoding and re-encoding (~0.6 M and ~0.25 M events/s). A block
 * per batch also costs 480 bytes per batch, and a decoder that installs each batch's structures
 * rebuilds msgpackr's compiled record reader every time: 6% of the decode rate at 256 events per
 * batch, 39% at 16 (rows "records, structures per batch of N" against "records, shared").
 * An event whose shape is not in the list still round-trips: msgpackr writes its structure inline
 * in that payload (as in row "records, inline structure": 904 bytes, decoded at map speed), so only
 * the listed shapes get the fast path.
 *
 * A mismatch is detectable, never silent: each batch header carries the structures version and a
 * fingerprint of the list (and of the msgpackr options that shape the bytes); BatchReader.decode and
 * BatchWriter.addFrom refuse a batch whose fingerprint differs (ERR_CODEC_STRUCTURES). Without the
 * check, a record id unknown to the decoder decodes as a small integer, silently.
 */

import { Packr, Unpackr, REUSE_BUFFER_MODE } from 'msgpackr';
import { encodeError, malformedError, structuresError } from './codec-errors.js';
import { MAX_U32 } from './batch-layout.js';
import { describeValue } from './errors.js';

export { BatchWriter, DEFAULT_MAX_BATCH_BYTES, type BatchWriterOptions } from './batch-writer.js';
export { BatchReader } from './batch-reader.js';
export { CodecError, isCodecError, type CodecErrorCode } from './codec-errors.js';

/** The record structures every thread of a pipeline encodes and decodes with. Plain data: post it. */
export interface CodecStructures {
  /** Bumped whenever `structures` changes; written into every batch header. */
  readonly version: number;
  /** Event shapes: each the field names of one kind of object, in the order its objects list them. */
  readonly structures: readonly (readonly string[])[];
}

/**
 * msgpackr's one-byte record ids leave room for 32 shared structures (and 32 inline ones per
 * payload). Beyond 32 it switches to two-byte ids, whose shared entries it only sets up when the
 * structures arrive through its getStructures hook: given as a list they decoded wrong here
 * ("Data read, but end of buffer not reached"), so the list stops at 32.
 */
export const MAX_SHARED_STRUCTURES = 32;

/**
 * msgpackr's `pack` starts a fresh buffer of its own when fewer than 2048 + 10 bytes are left
 * after the start position (pack.js: `safeEnd - position < 0x800`). A writer keeps this much room
 * past its end so encoding in place never takes that path.
 */
const ENCODE_HEADROOM = 2048 + 64;

/** Whatever changes the bytes for the same structures goes into the fingerprint: these options. */
const WIRE_FORMAT = 'msgpackr/records:shared<=32,own=32';

/**
 * msgpackr keeps its output buffer in module state shared by every Packr of the thread. After we
 * point it at a writer's buffer, any other `pack()` in the thread would write into that buffer,
 * where the writer's next event overwrites it. Parking it at the end of this buffer makes such a
 * `pack()` allocate a fresh one, as it would have anyway (this is msgpackr's own first size).
 */
const PARKING = Buffer.alloc(8192);

/** What `pack(value, REUSE_BUFFER_MODE)` returns: its whole buffer, with the value's range on it. */
interface ReusedBuffer extends Uint8Array {
  start: number;
  end: number;
}

export class Codec {
  readonly version: number;
  readonly fingerprint: number;
  /** A frozen copy of the structures this codec was built from, safe to pass on in workerData. */
  readonly spec: CodecStructures;
  /** Free bytes `encodeAt` needs after its offset (see ENCODE_HEADROOM). */
  readonly encodeHeadroom = ENCODE_HEADROOM;
  private readonly packr: Packr;
  private readonly unpackr: Unpackr;
  /** Reused as unpack's range argument, so decoding a payload allocates only the event. */
  private readonly range = { start: 0, end: 0 };
  /** msgpackr's own buffer holding the last value too large to encode in place. */
  private spill: ReusedBuffer | null = null;

  constructor(structures: CodecStructures) {
    this.spec = validateStructures(structures);
    this.version = this.spec.version;
    this.fingerprint = structuresFingerprint(this.spec);
    const shared = this.spec.structures.length;
    // Encoder and decoder get copies of their own: msgpackr annotates the arrays, and a corrupt
    // payload that reaches the decoder's copy must not be able to change what the encoder writes.
    this.packr = new Packr({
      useRecords: true,
      structures: mutableStructures(this.spec),
      // No room to learn new shared structures: an unknown shape is written inline in its payload.
      maxSharedStructures: shared,
      maxOwnStructures: 32,
    });
    this.unpackr = new Unpackr({
      useRecords: true,
      structures: mutableStructures(this.spec),
      maxSharedStructures: shared,
      // Payloads may be plain msgpack from outside (an HTTP source forwards them as they came):
      // their maps are events, so they decode to objects, as records do.
      mapsAsObjects: true,
      // The reader decodes from a buffer it reuses for the next batch: binary values must not be
      // views into it.
      copyBuffers: true,
    });
  }

  /**
   * Encodes `value` into `target` at `offset` (a multiple of 8 with `encodeHeadroom` bytes free
   * after it) and returns the end offset. When the value needs more room than that (msgpackr
   * reserves 3 bytes per character of a string before writing it), msgpackr writes it into a
   * buffer of its own instead: this returns minus the encoded length, leaving `target` past
   * `offset` unspecified, and `copySpill` copies the bytes over once the caller has made room.
   */
  encodeAt(target: Buffer, offset: number, value: unknown): number {
    const packr = this.packr;
    this.spill = null;
    packr.useBuffer(target);
    packr.position = offset;
    let out: ReusedBuffer;
    try {
      out = packr.pack(value, REUSE_BUFFER_MODE) as unknown as ReusedBuffer;
    } catch (error) {
      throw encodeError(`event cannot be encoded as msgpack: ${messageOf(error)}`, error);
    } finally {
      packr.useBuffer(PARKING);
      packr.position = PARKING.length;
    }
    if ((out as unknown) !== target) {
      this.spill = out;
      return -(out.end - out.start);
    }
    if (out.start !== offset) {
      throw encodeError(`msgpackr wrote at ${out.start}, not at the aligned offset ${offset} it was given`);
    }
    return out.end;
  }

  /** Copies the value the last `encodeAt` spilled into `target` at `offset`; returns the end offset. */
  copySpill(target: Uint8Array, offset: number): number {
    const spill = this.spill;
    if (spill === null) throw encodeError('copySpill called without a spilled encodeAt before it');
    this.spill = null;
    const length = spill.end - spill.start;
    target.set(spill.subarray(spill.start, spill.end), offset);
    return offset + length;
  }

  /** The value's msgpack bytes in an ArrayBuffer of their own (safe to post or keep). */
  encode(value: unknown): Uint8Array {
    let view: Uint8Array;
    try {
      view = this.packr.pack(value);
    } catch (error) {
      throw encodeError(`event cannot be encoded as msgpack: ${messageOf(error)}`, error);
    }
    return new Uint8Array(view);
  }

  /**
   * Decodes the msgpack value in `bytes[start, end)`. `eventIndex` only names the event in the error.
   * Shared memory is copied out first (msgpackr's native string extractor refuses it: "source must
   * be an ArrayBuffer"); BatchReader does that once per batch instead, so it never comes here.
   */
  decode(bytes: Uint8Array, start = 0, end = bytes.length, eventIndex = -1): unknown {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= bytes.length)) {
      throw malformedError(`${what(eventIndex)} range ${start}..${end} is outside the ${bytes.length} bytes given`);
    }
    // unpack reads a zero end as "to the end of the buffer".
    if (start === end) throw malformedError(`${what(eventIndex)} is empty: zero bytes are no msgpack value`);
    if (!(bytes.buffer instanceof ArrayBuffer)) {
      const copy = new Uint8Array(end - start);
      copy.set(bytes.subarray(start, end));
      return this.decode(copy, 0, copy.length, eventIndex);
    }
    const range = this.range;
    range.start = start;
    range.end = end;
    try {
      return this.unpackr.unpack(bytes, range);
    } catch (error) {
      throw malformedError(
        `${what(eventIndex)} (bytes ${start}..${end}, ${end - start} bytes) is not valid msgpack: ${messageOf(error)}`,
        error,
      );
    }
  }
}

/**
 * Checks a structures list at the boundary (it arrives in workerData) and returns a frozen copy.
 * Throws ERR_CODEC_STRUCTURES naming the offending path.
 */
export function validateStructures(input: unknown): CodecStructures {
  if (typeof input !== 'object' || input === null) throw structuresError(`structures must be an object { version, structures }, got ${describeValue(input)}`);
  const { version, structures } = input as { version?: unknown; structures?: unknown };
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0 || version > MAX_U32) {
    throw structuresError(`structures.version must be an integer from 0 to ${MAX_U32}, got ${describeValue(version)}`);
  }
  if (!Array.isArray(structures)) throw structuresError(`structures.structures must be an array, got ${describeValue(structures)}`);
  if (structures.length > MAX_SHARED_STRUCTURES) {
    throw structuresError(`structures.structures lists ${structures.length} structures; msgpackr's one-byte ids allow at most ${MAX_SHARED_STRUCTURES}`);
  }
  const seen = new Map<string, number>();
  const copy = structures.map((fields: unknown, i) => {
    if (!Array.isArray(fields) || fields.length === 0) {
      throw structuresError(`structures.structures[${i}] must be a non-empty array of field names, got ${describeValue(fields)}`);
    }
    const names = new Set<string>();
    for (const [j, field] of fields.entries()) {
      if (typeof field !== 'string') throw structuresError(`structures.structures[${i}][${j}] must be a string, got ${describeValue(field)}`);
      if (names.has(field)) throw structuresError(`structures.structures[${i}] lists field ${JSON.stringify(field)} twice`);
      names.add(field);
    }
    const signature = JSON.stringify(fields);
    const earlier = seen.get(signature);
    if (earlier !== undefined) throw structuresError(`structures.structures[${i}] repeats structures.structures[${earlier}]`);
    seen.set(signature, i);
    return Object.freeze([...(fields as string[])]);
  });
  return Object.freeze({ version, structures: Object.freeze(copy) });
}

/**
 * A 32-bit FNV-1a hash of the wire format, the version and the field lists: equal lists give equal
 * fingerprints in every thread; a changed one differs except with odds of one in four billion.
 */
export function structuresFingerprint(spec: CodecStructures): number {
  return fnv1a32(`${WIRE_FORMAT}\n${spec.version}\n${spec.structures.map((s) => JSON.stringify(s)).join('\n')}`);
}

/** The 32-bit FNV-1a hash of a string's UTF-16 code units, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Mutable copies for msgpackr, each marked shared: msgpackr's decoder restores a shared structure
 * after a payload redefines its id (only a corrupt payload does), but it only knows a structure
 * is shared when marked. Unmarked, one corrupt payload would change how every later event decodes.
 */
function mutableStructures(spec: CodecStructures): string[][] {
  return spec.structures.map((fields) => Object.assign([...fields], { isShared: true }));
}

function what(eventIndex: number): string {
  return eventIndex >= 0 ? `payload of event ${eventIndex}` : 'payload';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
