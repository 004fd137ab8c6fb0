/**
 * NDJSON straight from an event's msgpack bytes, without decoding it: for a job with no filter,
 * the line is the job's field list with each value's bytes copied (strings) or printed (numbers)
 * from the payload. Decoding every event into an object of ~30 strings and formatting it again
 * was most of Logpush's time (msgpackr's readString, the formatter, and the garbage of both:
 * bench/pipeline's `--cpu-prof`); this reads each payload once and allocates only for floats and
 * timestamps.
 *
 * It handles the payloads the pipeline's own encoder writes: a msgpackr record of a shared
 * structure (one id byte, then the values in the structure's key order) whose selected values are
 * nil, booleans, integers up to 32 bits, float64 and strings that are valid UTF-8 needing no JSON
 * escape. Anything else (an inline structure, a plain map from an HTTP source, a nested value, a
 * string with a quote, a control character or a lone surrogate, a truncated payload) makes
 * `measure` or `write` return -1 and the caller decodes and formats the event as before. So the
 * bytes written are, by construction, those the decode-and-format path writes
 * (test/actors/logpush/transcode.test.ts checks it over random events).
 *
 * Two passes per event: `measure` walks the record once and notes each selected value's kind and
 * place, so the caller knows the line's length (upload limits, room in the object) before `write`
 * puts it in the object's buffer, field by field in the job's order. A string is checked (UTF-8,
 * nothing to escape) while `write` copies it, four bytes at a time while they are plain ASCII: a
 * string that fails makes `write` return -1, and the line it began is left unfinished past the
 * caller's end (the caller decodes the event instead). Checking in `measure` and copying a byte at
 * a time in `write` went over every string twice and over the field names a byte at a time: 1.95
 * µs an event for both passes against 1.14 µs then (the edge generator's events, nine fields, best of
 * 12 rounds side by side in one process). The field names' prefixes are then stored 8 bytes at a
 * time from chunks made once, a string's last 1-3 bytes as the word that ends it, and the line's
 * length is added up as `measure` reads the values (no second walk over the fields): 520-527
 * against 589-611 ns an event (medians of 20 rounds side by side, on a slower hour of the machine).
 */

import type { CodecStructures } from '../../runtime/codec.js';
import type { TimestampFormat } from '../job.js';
import { TIMESTAMP_FIELDS, isInheritedName } from './fields.js';
import { ndjsonTimestamp } from './format.js';
import { timestampWriter } from './timestamp.js';

const K_NULL = 0;
const K_TRUE = 1;
const K_FALSE = 2;
const K_INT = 3;
const K_STR = 4;
/** Printed text (a float, a timestamp) in `texts`. */
const K_TEXT = 5;

/** msgpackr's record ids for shared structures: 0x40 + index. */
const RECORD_BASE = 0x40;

interface Plan {
  /** For each key of the structure, in order: the output field it fills, or -1. */
  readonly outputOf: Int32Array;
  /** The output fields no key of the structure fills: null in every line. */
  readonly absent: Int32Array;
}

const LITERALS: readonly Uint8Array[] = [Buffer.from('null'), Buffer.from('true'), Buffer.from('false')];
/** Each literal's length in a line, by kind (K_NULL, K_TRUE, K_FALSE). */
const LITERAL_BYTES = Int32Array.from(LITERALS, (literal) => literal.length);

export class NdjsonTranscoder {
  private readonly plans: (Plan | null)[];
  /** The bytes before each output field's value (`{"Name":` for the first, `,"Name":` after), end to end. */
  private readonly prefixBytes: Uint8Array;
  /**
   * Each prefix as 8-byte chunks to store, read as float64s: output field j's are chunks
   * [chunkAt[j], chunkAt[j + 1]), chunk c going `chunkOffset[c]` bytes into the prefix. The last
   * chunk of a prefix whose length is no multiple of 8 ends where the prefix ends and overlaps the
   * one before it: no byte loop. A double that is no NaN is stored with its exact bits, and ASCII
   * makes no NaN (that needs a byte 0x7f or >= 0x80 in the top place; field names are letters,
   * digits and _). A prefix under 8 bytes (a name of 1-3 characters) is stored as 32-bit words
   * the same way (every prefix has 5 bytes at least).
   */
  private readonly chunks: Float64Array;
  private readonly chunkOffset: Int32Array;
  private readonly chunkAt: Int32Array;
  private readonly words: Uint32Array;
  private readonly wordOffset: Int32Array;
  private readonly wordAt: Int32Array;
  /** Each output field's prefix length. */
  private readonly prefixLength: Int32Array;
  private readonly isTimestamp: Uint8Array;
  private readonly timestamp: (value: unknown) => string;
  // The measured event, one entry per output field.
  private readonly kinds: Uint8Array;
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private readonly ints: Float64Array;
  private readonly texts: string[];
  /** The measured event's values' bytes in its line. */
  private valueBytes = 0;
  private source: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(8));
  private target: Uint8Array = new Uint8Array(0);
  private targetView: DataView = new DataView(new ArrayBuffer(8));

  constructor(structures: CodecStructures, fieldNames: readonly string[], timestampFormat: TimestampFormat) {
    const outputIndex = new Map(fieldNames.map((name, i) => [name, i]));
    this.plans = structures.structures.map((keys) => {
      // A structure with a name every object inherits stays on the decode path (format.ts reads those with hasOwn).
      if (keys.some((key) => isInheritedName(key))) return null;
      const outputOf = Int32Array.from(keys, (key) => outputIndex.get(key) ?? -1);
      return { outputOf, absent: Int32Array.from(fieldNames.keys()).filter((j) => !outputOf.includes(j)) };
    });
    const prefixes = fieldNames.map((name, i) => Buffer.from(`${i === 0 ? '{' : ','}${JSON.stringify(name)}:`, 'utf8'));
    this.prefixBytes = Buffer.concat(prefixes);
    const chunks: number[] = [];
    const chunkOffsets: number[] = [];
    const words: number[] = [];
    const wordOffsets: number[] = [];
    this.chunkAt = new Int32Array(prefixes.length + 1);
    this.wordAt = new Int32Array(prefixes.length + 1);
    this.prefixLength = Int32Array.from(prefixes, (prefix) => prefix.length);
    /** Offsets of `size`-byte pieces covering `length` bytes, the last one ending at `length`. */
    const pieces = (length: number, size: number): number[] => Array.from({ length: Math.ceil(length / size) }, (_, i) => Math.min(i * size, length - size));
    for (let j = 0; j < prefixes.length; j++) {
      const prefix = prefixes[j]!;
      // `{"` or `,"`, a name of one character at least, then `":`.
      if (prefix.length < 5) throw new Error(`transcode: prefix of field ${j} is ${prefix.length} bytes`);
      if (prefix.length >= 8) {
        for (const at of pieces(prefix.length, 8)) {
          const chunk = prefix.readDoubleLE(at);
          if (Number.isNaN(chunk)) throw new Error(`transcode: field name ${JSON.stringify(fieldNames[j])} is not ASCII`);
          chunks.push(chunk);
          chunkOffsets.push(at);
        }
      } else {
        for (const at of pieces(prefix.length, 4)) {
          words.push(prefix.readUInt32LE(at));
          wordOffsets.push(at);
        }
      }
      this.chunkAt[j + 1] = chunks.length;
      this.wordAt[j + 1] = words.length;
    }
    this.chunks = Float64Array.from(chunks);
    this.chunkOffset = Int32Array.from(chunkOffsets);
    this.words = Uint32Array.from(words);
    this.wordOffset = Int32Array.from(wordOffsets);
    this.isTimestamp = Uint8Array.from(fieldNames, (name) => (TIMESTAMP_FIELDS.has(name) ? 1 : 0));
    this.timestamp = ndjsonTimestamp(timestampWriter(timestampFormat), timestampFormat);
    const n = fieldNames.length;
    this.kinds = new Uint8Array(n);
    this.starts = new Int32Array(n);
    this.ends = new Int32Array(n);
    this.ints = new Float64Array(n);
    this.texts = new Array<string>(n).fill('');
  }

  /**
   * Reads the payload `source[start, end)`; returns the NDJSON line's length in bytes (without a
   * newline), or -1 when this event must go the decode-and-format path. `write` then writes it
   * (or finds a string to escape, and the event goes that path after all).
   */
  measure(source: Uint8Array, start: number, end: number): number {
    if (source !== this.source) {
      this.source = source;
      this.view = new DataView(source.buffer, source.byteOffset, source.byteLength);
    }
    if (start >= end) return -1;
    const plan = this.plans[source[start]! - RECORD_BASE];
    if (plan === undefined || plan === null) return -1;
    const kinds = this.kinds;
    // Every field is set below: by its key's value (take), or null when the structure has none.
    const absent = plan.absent;
    for (let a = 0; a < absent.length; a++) kinds[absent[a]!] = K_NULL;
    // The values' bytes in the line, added up as take notes them: `null` for each absent field.
    this.valueBytes = absent.length * LITERAL_BYTES[K_NULL]!;
    const outputOf = plan.outputOf;
    let pos = start + 1;
    for (let k = 0; k < outputOf.length; k++) {
      const j = outputOf[k]!;
      pos = j < 0 ? skip(source, pos, end) : this.take(source, pos, end, j);
      if (pos < 0) return -1;
    }
    if (pos !== end) return -1;
    return 1 + this.prefixBytes.length + this.valueBytes;
  }

  /**
   * Writes the event `measure` read last into `target` at `offset` (room for `measure`'s length
   * there); returns the end offset, or -1 when one of its strings is not plain UTF-8 that JSON
   * writes as it is (the bytes from `offset` on are then unfinished; the caller decodes the event).
   */
  write(target: Uint8Array, offset: number): number {
    if (target !== this.target) {
      this.target = target;
      this.targetView = new DataView(target.buffer, target.byteOffset, target.byteLength);
    }
    const { kinds, chunks, chunkOffset, chunkAt, words, wordOffset, wordAt, prefixLength, targetView } = this;
    let at = offset;
    for (let j = 0; j < kinds.length; j++) {
      // Eight (or four) bytes at a time, made once: no subarray per piece (garbage), no set() per
      // piece (its fixed cost is that of ~100 bytes of a byte loop), no byte loop for the tail.
      for (let c = chunkAt[j]!, ce = chunkAt[j + 1]!; c < ce; c++) targetView.setFloat64(at + chunkOffset[c]!, chunks[c]!, true);
      for (let w = wordAt[j]!, we = wordAt[j + 1]!; w < we; w++) targetView.setUint32(at + wordOffset[w]!, words[w]!, true);
      at += prefixLength[j]!;
      switch (kinds[j]) {
        case K_STR: {
          target[at++] = 0x22;
          at = this.copyPlain(target, at, this.starts[j]!, this.ends[j]!);
          if (at < 0) return -1;
          target[at++] = 0x22;
          break;
        }
        case K_INT:
          at = this.writeInt(target, at, this.ints[j]!);
          break;
        case K_TEXT: {
          const text = this.texts[j]!;
          for (let c = 0; c < text.length; c++) target[at++] = text.charCodeAt(c);
          break;
        }
        default: {
          const literal = LITERALS[kinds[j]!]!;
          for (let c = 0; c < literal.length; c++) target[at++] = literal[c]!;
        }
      }
    }
    target[at++] = 0x7d;
    return at;
  }

  /**
   * Copies the string bytes `source[s, e)` to `target` at `at` if they are plain (plainUtf8);
   * returns the end offset, or -1. Words of four printable ASCII bytes other than a quote or a
   * backslash are copied as words; from the first other word on, byte by byte after plainUtf8.
   */
  private copyPlain(target: Uint8Array, at: number, s: number, e: number): number {
    const view = this.view;
    const targetView = this.targetView;
    let p = s;
    for (; p + 4 <= e; p += 4, at += 4) {
      const w = view.getUint32(p, true);
      if (!plainWord(w)) break;
      targetView.setUint32(at, w, true);
    }
    if (p < e && p + 4 > e && e - s >= 4) {
      // 1-3 bytes left after plain words: the word ending at `e` overlaps what was copied already.
      const w = view.getUint32(e - 4, true);
      if (plainWord(w)) {
        targetView.setUint32(at + (e - p) - 4, w, true);
        return at + (e - p);
      }
    }
    if (p < e) {
      const source = this.source;
      if (!plainUtf8(source, p, e)) return -1;
      for (; p < e; p++) target[at++] = source[p]!;
    }
    return at;
  }

  /** Notes the value at `pos` for output field `j`; returns the position after it, or -1. */
  private take(b: Uint8Array, pos: number, end: number, j: number): number {
    if (pos >= end) return -1;
    const t = b[pos]!;
    const stamp = this.isTimestamp[j] === 1;
    let n: number;
    let next: number;
    if (t <= 0x7f) {
      // Positive fixint; 0x40-0x7f are record ids under useRecords (a nested object).
      if (t >= RECORD_BASE) return -1;
      n = t;
      next = pos + 1;
    } else if (t >= 0xe0) {
      n = t - 0x100;
      next = pos + 1;
    } else if ((t >= 0xa0 && t <= 0xbf) || t === 0xd9 || t === 0xda || t === 0xdb) {
      if (stamp) return -1;
      let s: number;
      let len: number;
      if (t <= 0xbf) {
        len = t & 0x1f;
        s = pos + 1;
      } else if (t === 0xd9) {
        if (pos + 2 > end) return -1;
        len = b[pos + 1]!;
        s = pos + 2;
      } else if (t === 0xda) {
        if (pos + 3 > end) return -1;
        len = (b[pos + 1]! << 8) | b[pos + 2]!;
        s = pos + 3;
      } else {
        if (pos + 5 > end) return -1;
        len = this.view.getUint32(pos + 1);
        s = pos + 5;
      }
      const e = s + len;
      // Checked as write copies it (copyPlain).
      if (e > end) return -1;
      this.kinds[j] = K_STR;
      this.starts[j] = s;
      this.ends[j] = e;
      this.valueBytes += len + 2;
      return e;
    } else {
      switch (t) {
        case 0xc0:
          this.kinds[j] = K_NULL;
          this.valueBytes += LITERAL_BYTES[K_NULL]!;
          return pos + 1;
        case 0xc2:
        case 0xc3:
          if (stamp) return -1;
          this.kinds[j] = t === 0xc3 ? K_TRUE : K_FALSE;
          this.valueBytes += LITERAL_BYTES[this.kinds[j]!]!;
          return pos + 1;
        case 0xcc:
          if (pos + 2 > end) return -1;
          n = b[pos + 1]!;
          next = pos + 2;
          break;
        case 0xcd:
          if (pos + 3 > end) return -1;
          n = this.view.getUint16(pos + 1);
          next = pos + 3;
          break;
        case 0xce:
          if (pos + 5 > end) return -1;
          n = this.view.getUint32(pos + 1);
          next = pos + 5;
          break;
        case 0xd0:
          if (pos + 2 > end) return -1;
          n = this.view.getInt8(pos + 1);
          next = pos + 2;
          break;
        case 0xd1:
          if (pos + 3 > end) return -1;
          n = this.view.getInt16(pos + 1);
          next = pos + 3;
          break;
        case 0xd2:
          if (pos + 5 > end) return -1;
          n = this.view.getInt32(pos + 1);
          next = pos + 5;
          break;
        case 0xcb: {
          if (pos + 9 > end) return -1;
          const value = this.view.getFloat64(pos + 1);
          const text = stamp ? this.timestamp(value) : Number.isFinite(value) ? String(value) : 'null';
          this.kinds[j] = K_TEXT;
          this.texts[j] = text;
          this.valueBytes += text.length;
          return pos + 9;
        }
        default:
          // float32 (msgpackr may round it), 64-bit integers (may decode as bigint), bin, ext, containers.
          return -1;
      }
    }
    if (stamp) {
      const text = this.timestamp(n);
      this.kinds[j] = K_TEXT;
      this.texts[j] = text;
      this.valueBytes += text.length;
    } else {
      this.kinds[j] = K_INT;
      this.ints[j] = n;
      this.valueBytes += intLength(n);
    }
    return next;
  }

  /**
   * Decimal digits of an integer of at most 32 bits, as String() writes them, straight into
   * `target` from the last digit back. Integer division by 10 (`(m / 10) | 0`, which V8 makes a
   * multiply): `n % 10` and `Math.floor(n / 10)` on the doubles of `ints` were a floating-point
   * remainder call each, ~19% of write's samples (bench:pipeline's `--cpu-prof`).
   */
  private writeInt(target: Uint8Array, at: number, value: number): number {
    let n = value;
    if (n < 0) {
      target[at++] = 0x2d;
      n = -n;
    }
    const end = at + digitCount(n);
    let p = end;
    if (n > 0x7fffffff) {
      // Past int32 (a uint32, or -2^31's magnitude): one digit the double way leaves an int32.
      const q = Math.floor(n / 10);
      target[--p] = 0x30 + (n - q * 10);
      n = q;
    }
    let m = n | 0;
    do {
      const q = (m / 10) | 0;
      target[--p] = 0x30 + (m - q * 10);
      m = q;
    } while (m !== 0);
    return end;
  }
}

/**
 * Whether the four bytes of `w` are printable ASCII other than a quote or a backslash: false when
 * a byte is >= 0x80, < 0x20, 0x22 or 0x5c (no false positives; a false negative only sends the
 * rest down the byte path, which decides exactly).
 */
function plainWord(w: number): boolean {
  const q = w ^ 0x22222222;
  const bs = w ^ 0x5c5c5c5c;
  return ((w | ((w - 0x20202020) & ~w) | ((q - 0x01010101) & ~q) | ((bs - 0x01010101) & ~bs)) & 0x80808080) === 0;
}

function intLength(value: number): number {
  return value < 0 ? 1 + digitCount(-value) : digitCount(value);
}

/** Decimal digits of `n`, an integer from 0 to 2^32. */
function digitCount(n: number): number {
  if (n < 1e5) return n < 100 ? (n < 10 ? 1 : 2) : n < 1e3 ? 3 : n < 1e4 ? 4 : 5;
  return n < 1e7 ? (n < 1e6 ? 6 : 7) : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
}

/** Past a scalar value the line does not need; -1 for anything else (or a truncated one). */
function skip(b: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1;
  const t = b[pos]!;
  let next: number;
  if (t <= 0x7f) next = t >= RECORD_BASE ? -1 : pos + 1;
  else if (t >= 0xe0) next = pos + 1;
  else if (t >= 0xa0 && t <= 0xbf) next = pos + 1 + (t & 0x1f);
  else {
    switch (t) {
      case 0xc0:
      case 0xc2:
      case 0xc3:
        next = pos + 1;
        break;
      case 0xcc:
      case 0xd0:
        next = pos + 2;
        break;
      case 0xcd:
      case 0xd1:
        next = pos + 3;
        break;
      case 0xca:
      case 0xce:
      case 0xd2:
        next = pos + 5;
        break;
      case 0xcb:
      case 0xcf:
      case 0xd3:
        next = pos + 9;
        break;
      case 0xd9:
      case 0xc4:
        next = pos + 1 < end ? pos + 2 + b[pos + 1]! : -1;
        break;
      case 0xda:
      case 0xc5:
        next = pos + 2 < end ? pos + 3 + ((b[pos + 1]! << 8) | b[pos + 2]!) : -1;
        break;
      case 0xdb:
      case 0xc6:
        next = pos + 4 < end ? pos + 5 + ((b[pos + 1]! << 24) >>> 0) + ((b[pos + 2]! << 16) | (b[pos + 3]! << 8) | b[pos + 4]!) : -1;
        break;
      default:
        next = -1;
    }
  }
  return next > end ? -1 : next;
}

/**
 * Whether `b[s, e)` is well-formed UTF-8 (no surrogates, no overlong forms) with nothing JSON
 * escapes: no quote, backslash or control character. Such bytes are the string JSON writes.
 */
function plainUtf8(b: Uint8Array, s: number, e: number): boolean {
  let i = s;
  while (i < e) {
    const c = b[i]!;
    if (c < 0x80) {
      if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      if (i + 1 >= e || (b[i + 1]! & 0xc0) !== 0x80) return false;
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (i + 2 >= e) return false;
      const c1 = b[i + 1]!;
      // E0: no overlong forms (A0-BF); ED: no surrogates (80-9F).
      if (c === 0xe0 ? c1 < 0xa0 || c1 > 0xbf : c === 0xed ? c1 < 0x80 || c1 > 0x9f : (c1 & 0xc0) !== 0x80) return false;
      if ((b[i + 2]! & 0xc0) !== 0x80) return false;
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (i + 3 >= e) return false;
      const c1 = b[i + 1]!;
      if (c === 0xf0 ? c1 < 0x90 || c1 > 0xbf : c === 0xf4 ? c1 < 0x80 || c1 > 0x8f : (c1 & 0xc0) !== 0x80) return false;
      if ((b[i + 2]! & 0xc0) !== 0x80 || (b[i + 3]! & 0xc0) !== 0x80) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

/** Transcoders per structures list, by (timestamp format, field list): shared by the jobs that ask for the same. */
const cache = new WeakMap<CodecStructures, Map<string, NdjsonTranscoder>>();
const MAX_CACHED = 4096;

export function ndjsonTranscoder(structures: CodecStructures, fieldNames: readonly string[], timestampFormat: TimestampFormat): NdjsonTranscoder {
  let byShape = cache.get(structures);
  if (byShape === undefined) cache.set(structures, (byShape = new Map()));
  const key = `${timestampFormat}\n${fieldNames.join(',')}`;
  let transcoder = byShape.get(key);
  if (transcoder === undefined) {
    transcoder = new NdjsonTranscoder(structures, fieldNames, timestampFormat);
    // Bounded: past MAX_CACHED distinct shapes a job builds its own.
    if (byShape.size < MAX_CACHED) byShape.set(key, transcoder);
  }
  return transcoder;
}
