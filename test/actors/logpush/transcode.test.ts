/**
 * The transcoder writes, byte for byte, the line the decode-and-format path writes, or leaves the
 * event to that path (-1): over random events of random shapes, random field lists and every
 * timestamp format; over the edge generator's real events (which must all take the fast path);
 * and through CompiledJob, where the objects of a job with and without the transcoder are equal.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchReader, BatchWriter, Codec, type CodecStructures } from '../../../src/runtime/codec.js';
import { compileFormatter } from '../../../src/actors/logpush/format.js';
import { NdjsonTranscoder, ndjsonTranscoder } from '../../../src/actors/logpush/transcode.js';
import { CompiledJob } from '../../../src/actors/logpush/compiled-job.js';
import type { UploadObject } from '../../../src/actors/logpush/upload-object.js';
import { EdgeGenerator } from '../../../src/actors/sources/edge-generator.js';
import { DEFAULT_FIELD_NAMES } from '../../../src/actors/defaults.js';
import type { TimestampFormat } from '../../../src/actors/job.js';

// Names of both prefix shapes: under 8 bytes (`{"a":`, `,"ip":`, stored as 4-byte words), and of 8
// and more (8-byte chunks, the last overlapping).
const KEYS = ['RayID', 'ZoneID', 'EdgeStartTimestamp', 'EdgeEndTimestamp', 'ClientIP', 'Host', 'Status', 'Bytes', 'Ratio', 'Flag', 'Note', 'Datetime', 'a', 'ip'];
const STRUCTURES: CodecStructures = {
  version: 3,
  structures: [KEYS, KEYS.slice(0, 6), ['Note', 'Status', 'Datetime', 'Flag'], ['constructor', 'Status']],
};
const FORMATS: TimestampFormat[] = ['unixnano', 'unix', 'rfc3339'];

const scalar = fc.oneof(
  // What the transcoder writes itself...
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 127 }) },
  { weight: 3, arbitrary: fc.integer({ min: -32, max: -1 }) },
  { weight: 6, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }) },
  // Where the digit count changes, and where int32 ends.
  { weight: 2, arbitrary: fc.constantFrom(0, 9, 10, 99_999, 100_000, 999_999_999, 1e9, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, -(2 ** 31), -(2 ** 31) + 1, -1e9, -10, -9) },
  { weight: 3, arbitrary: fc.double() },
  { weight: 3, arbitrary: fc.constantFrom(1_731_600_000_000_000_000, 1.5e21, -0, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53 + 2) },
  { weight: 6, arbitrary: fc.string() },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme' }) },
  { weight: 3, arbitrary: fc.string({ minLength: 32, maxLength: 300 }) },
  { weight: 3, arbitrary: fc.constantFrom(null, true, false, 'é', '😀', 'line\u2028sep', '') },
  // ...and what it leaves to the decode path.
  { weight: 1, arbitrary: fc.maxSafeInteger() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary' }) },
  { weight: 1, arbitrary: fc.constantFrom('"quoted"', 'back\\slash', 'tab\there', '\ud800 lone', undefined) },
  { weight: 1, arbitrary: fc.constantFrom({ nested: 1 }, [1, 'two'], new Uint8Array([1, 2, 3])) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
);

/** An event of structure `s` (its keys in order, so the encoder picks that record), or of another shape. */
const eventArb = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: STRUCTURES.structures.length - 1 }).chain((s) => fc.tuple(...STRUCTURES.structures[s]!.map(() => scalar)).map((values) => Object.fromEntries(STRUCTURES.structures[s]!.map((k, i) => [k, values[i]])))) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...KEYS, 'Other'), scalar, { maxKeys: 8 }) },
);
const fieldsArb = fc.shuffledSubarray([...KEYS, 'Absent', 'constructor'], { minLength: 1 });

function transcode(t: NdjsonTranscoder, bytes: Uint8Array, start = 0, end = bytes.length): string | null {
  const length = t.measure(bytes, start, end);
  if (length < 0) return null;
  const out = new Uint8Array(length + 8).fill(0xee);
  const written = t.write(out, 3);
  // Never past the measured line, written or refused.
  expect(out.subarray(0, 3).every((x) => x === 0xee) && out.subarray(3 + length).every((x) => x === 0xee)).toBe(true);
  if (written < 0) return null;
  expect(written - 3).toBe(length);
  return Buffer.from(out.subarray(3, written)).toString('utf8');
}

describe('NdjsonTranscoder', () => {
  it('writes exactly what decode-and-format writes, or leaves the event to it (random events, fields, timestamp formats)', () => {
    const codec = new Codec(STRUCTURES);
    let fast = 0;
    let total = 0;
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 20 }), fieldsArb, fc.constantFrom(...FORMATS), (events, fields, format) => {
        const transcoder = new NdjsonTranscoder(codec.spec, fields, format);
        const formatter = compileFormatter({ field_names: fields, timestamp_format: format });
        for (const event of events) {
          let bytes: Uint8Array;
          try {
            bytes = codec.encode(event);
          } catch {
            continue; // not encodable at all: never reaches Logpush
          }
          total++;
          const line = transcode(transcoder, bytes);
          if (line === null) continue;
          fast++;
          expect(line).toBe(formatter.format(codec.decode(bytes) as Record<string, unknown>));
        }
      }),
      { numRuns: 400 },
    );
    // The fast path is taken for a good share, so the equality above was really exercised.
    expect(fast).toBeGreaterThan(total / 5);
  });

  it('refuses every truncation of a payload', () => {
    const codec = new Codec(STRUCTURES);
    fc.assert(
      fc.property(eventArb, fieldsArb, (event, fields) => {
        const bytes = codec.encode(event);
        const transcoder = new NdjsonTranscoder(codec.spec, fields, 'unixnano');
        for (let end = 0; end < bytes.length; end++) expect(transcoder.measure(bytes, 0, end)).toBe(-1);
      }),
      { numRuns: 200 },
    );
  });

  it('leaves what it does not write as is to the decode path: quotes, control characters, lone surrogates, nested values, plain maps, names every object inherits', () => {
    const codec = new Codec(STRUCTURES);
    const t = new NdjsonTranscoder(codec.spec, ['Note', 'Status'], 'unixnano');
    const base = { Note: 'n', Status: 200, Datetime: 1, Flag: true };
    expect(transcode(t, codec.encode(base))).toBe('{"Note":"n","Status":200}');
    for (const Note of ['say "hi"', 'a\\b', 'a\nb', '\udc00', { x: 1 }, [1], new Uint8Array(2), 2n ** 60n]) {
      expect(transcode(t, codec.encode({ ...base, Note }))).toBeNull();
    }
    // Another shape (an inline structure), and a structure with "constructor" in it.
    expect(transcode(t, codec.encode({ Note: 'n', Status: 1 }))).toBeNull();
    expect(transcode(t, codec.encode({ constructor: 'c', Status: 1 }))).toBeNull();
  });

  it("takes the fast path for every event of the edge generator, in a batch read from a ring's bytes", () => {
    const generator = new EdgeGenerator({ seed: 9, zones: 500 });
    const writer = new BatchWriter(generator.codec);
    const reader = new BatchReader(generator.codec);
    for (const format of FORMATS) {
      const transcoder = ndjsonTranscoder(generator.codec.spec, DEFAULT_FIELD_NAMES, format);
      const formatter = compileFormatter({ field_names: DEFAULT_FIELD_NAMES, timestamp_format: format });
      writer.begin('http_requests');
      const added = generator.fillBatch(writer, 'http_requests', 2000, 1_731_600_000_000_000_000, 1_000_000);
      // In shared memory, as Logpush reads it from its ring.
      const batch = writer.finish();
      const shared = new Uint8Array(new SharedArrayBuffer(batch.length));
      shared.set(batch);
      reader.reset(shared);
      const source = reader.payloadSource()!;
      // Read where they are, in the ring's memory: no copy of the batch for the transcoder.
      expect(source.buffer).toBe(shared.buffer);
      for (let i = 0; i < added; i++) {
        const line = transcode(transcoder, source, reader.sourceStart(i), reader.sourceEnd(i));
        expect(line).toBe(formatter.format(reader.decode(i) as Record<string, unknown>));
      }
    }
  });
});

describe('CompiledJob with a transcoder', () => {
  function objects(structures: CodecStructures | undefined, reader: BatchReader, job: { sample_rate?: number; max_upload_bytes?: number; max_upload_records?: number }): { bodies: string[]; outcomes: string[] } {
    const out: UploadObject[] = [];
    const compiled = new CompiledJob(
      {
        id: 'j1',
        dataset: 'http_requests',
        zones: [1],
        output_options: { field_names: DEFAULT_FIELD_NAMES, ...(job.sample_rate === undefined ? {} : { sample_rate: job.sample_rate }) },
        compression: 'none',
        ...(job.max_upload_bytes === undefined ? {} : { max_upload_bytes: job.max_upload_bytes }),
        ...(job.max_upload_records === undefined ? {} : { max_upload_records: job.max_upload_records }),
        destination: { type: 'stdout' },
      },
      { onObject: (o) => out.push(o), ...(structures === undefined ? {} : { structures }) },
    );
    const outcomes: string[] = [];
    for (let i = 0; i < reader.count; i++) outcomes.push(compiled.offerFrom(reader, i, i, 0));
    compiled.flush();
    return { bodies: out.map((o) => Buffer.from(o.body).toString('utf8')), outcomes };
  }

  it('makes the same objects as decoding (sampling, the upload limits, a line too long for any object)', () => {
    const generator = new EdgeGenerator({ seed: 4, zones: 200 });
    const writer = new BatchWriter(generator.codec);
    writer.begin('http_requests');
    const added = generator.fillBatch(writer, 'http_requests', 1500, 1_731_600_000_000_000_000, 1_000_000);
    const reader = new BatchReader(generator.codec);
    reader.reset(writer.finish());
    expect(reader.count).toBe(added);
    for (const job of [{}, { sample_rate: 7 }, { max_upload_records: 100 }, { max_upload_bytes: 20_000 }, { max_upload_bytes: 150 }]) {
      const fast = objects(generator.codec.spec, reader, job);
      const slow = objects(undefined, reader, job);
      expect(fast.outcomes).toEqual(slow.outcomes);
      expect(fast.bodies).toEqual(slow.bodies);
      if (job.max_upload_bytes === 150) expect(fast.outcomes).toContain('oversized');
      else expect(fast.bodies.join('').length).toBeGreaterThan(0);
    }
  });

  it('makes the same objects as decoding when strings need escaping (write refuses them; no empty object is left open)', () => {
    const generator = new EdgeGenerator({ seed: 5, zones: 200 });
    const writer = new BatchWriter(generator.codec);
    writer.begin('http_requests');
    generator.fillBatch(writer, 'http_requests', 600, 1_731_600_000_000_000_000, 1_000_000);
    const plain = new BatchReader(generator.codec);
    plain.reset(writer.finish().slice());
    // The same events with a quote, a backslash, a control character or a lone surrogate in a
    // string past its first four bytes (measure passes them; write finds them) in 1 of 3.
    const odd = ['Mozilla "quoted"', 'C:\\path\\x', 'tab\tafter a while', 'lone \ud800 surrogate'];
    writer.begin('http_requests');
    for (let i = 0; i < plain.count; i++) {
      const event = plain.decode(i) as Record<string, unknown>;
      if (i % 3 === 1) event.ClientRequestURI = odd[i % odd.length];
      writer.addEvent(plain.key(i), plain.timestamp(i), event);
    }
    const reader = new BatchReader(generator.codec);
    reader.reset(writer.finish());
    for (const job of [{}, { max_upload_records: 1 }, { max_upload_records: 7 }, { max_upload_bytes: 5_000 }]) {
      const fast = objects(generator.codec.spec, reader, job);
      const slow = objects(undefined, reader, job);
      expect(fast.outcomes).toEqual(slow.outcomes);
      expect(fast.bodies).toEqual(slow.bodies);
      expect(fast.bodies.every((body) => body.length > 0)).toBe(true);
      expect(fast.bodies.join('')).toContain('Mozilla \\"quoted\\"');
    }
  });
});
