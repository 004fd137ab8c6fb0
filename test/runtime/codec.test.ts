import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import {
  BatchReader,
  BatchWriter,
  Codec,
  CodecError,
  MAX_SHARED_STRUCTURES,
  isCodecError,
  structuresFingerprint,
  type CodecErrorCode,
  type CodecStructures,
} from '../../src/runtime/codec.js';
import {
  BATCH_MAGIC,
  ENTRY_KEY_INDEX_OFFSET,
  ENTRY_LENGTH,
  ENTRY_PAYLOAD_END_OFFSET,
  HEADER_LENGTH,
  MAGIC_OFFSET,
  PAYLOADS_OFFSET,
  VERSION_OFFSET,
  align8,
  batchSections,
} from '../../src/runtime/batch-layout.js';
import { createRing } from '../../src/native/ring.js';
import { RingProducer } from '../../src/native/ring-producer.js';
import { RingConsumer } from '../../src/native/ring-consumer.js';

const REQUEST_FIELDS = ['zone', 'status', 'path', 'bytes', 'start'];
const STRUCTURES: CodecStructures = { version: 7, structures: [REQUEST_FIELDS, ['name', 'value']] };
const codec = new Codec(STRUCTURES);

/** The error's code when `fn` throws one of ours; fails the test on anything else. */
function codeOf(fn: () => unknown): CodecErrorCode | 'none' {
  try {
    fn();
    return 'none';
  } catch (error) {
    if (error instanceof CodecError) return error.code;
    throw error;
  }
}

function thrown(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CodecError) return error;
    throw error;
  }
  throw new Error('expected a CodecError, nothing was thrown');
}

/**
 * msgpackr's two lossy corners, which the arbitrary steers around: -0 is written as the integer 0,
 * and a "__proto__" key is read back as "__proto_" (it refuses to set a prototype).
 */
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 3 }, tie('leaf'), tie('array'), tie('object'), tie('record')),
  leaf: fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ maxLength: 300 }),
    fc.integer(),
    fc.double().filter((d) => !Object.is(d, -0)),
    fc.boolean(),
    fc.constant(null),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 5, noNullPrototype: true }),
  // The shared structure's exact shape, so the records fast path is exercised too.
  record: fc
    .tuple(fc.integer({ min: 1, max: 1e9 }), fc.integer({ min: 100, max: 599 }), fc.string({ unit: 'grapheme' }), fc.nat(), fc.double())
    .map(([zone, status, path, bytes, start]) => ({ zone, status, path, bytes, start: Object.is(start, -0) ? 0 : start })),
}));

const timestampArb = fc.oneof(
  fc.double(),
  fc.integer({ min: 0, max: 2 ** 53 }),
  // Nanoseconds since the epoch, past 2^53: a float64 keeps them to within 256 ns.
  fc.bigInt({ min: 1_500_000_000_000_000_000n, max: 2_500_000_000_000_000_000n }).map(Number),
);

type Body = { kind: 'raw'; bytes: Uint8Array } | { kind: 'event'; value: unknown };

const eventArb = fc.record({
  key: fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constantFrom('zone-1', 'zone-2', 'acct/ü', ''),
    // Zones: plain digits (kept as numbers by tryForward), and digits that are not plain.
    fc.integer({ min: 0, max: 60 }).map(String),
    fc.constantFrom('007', '00', '1e3', '4294967295', '999999999999999', '1000000000000000'),
  ),
  timestamp: timestampArb,
  body: fc.oneof(
    fc.record({ kind: fc.constant('raw' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({ kind: fc.constant('event' as const), value: jsonish.value }),
  ) as fc.Arbitrary<Body>,
});

const batchArb = fc.record({
  dataset: fc.string({ unit: 'grapheme', maxLength: 30 }),
  events: fc.array(eventArb, { maxLength: 40 }),
});

type Batch = { dataset: string; events: { key: string; timestamp: number; body: Body }[] };

function writeBatch(writer: BatchWriter, batch: Batch): Uint8Array {
  writer.begin(batch.dataset);
  for (const e of batch.events) {
    if (e.body.kind === 'raw') writer.add(e.key, e.timestamp, e.body.bytes);
    else writer.addEvent(e.key, e.timestamp, e.body.value);
  }
  return writer.finish();
}

/** The batch copied into shared memory at an 8-aligned offset, as a ring would hold it. */
function inSharedMemory(batch: Uint8Array, at = 64): Uint8Array {
  const bytes = new Uint8Array(new SharedArrayBuffer(at + batch.length + 64));
  bytes.fill(0xee);
  bytes.set(batch, at);
  return bytes;
}

function checkBatch(reader: BatchReader, batch: Batch): void {
  expect(reader.dataset).toBe(batch.dataset);
  expect(reader.count).toBe(batch.events.length);
  expect(reader.keyCount).toBe(new Set(batch.events.map((e) => e.key)).size);
  batch.events.forEach((e, i) => {
    expect(reader.key(i)).toBe(e.key);
    expect(reader.keyByIndex(reader.keyIndex(i))).toBe(e.key);
    expect(Object.is(reader.timestamp(i), e.timestamp)).toBe(true);
    expect((reader.payloadOffset(i) - reader.byteOffset) % 8).toBe(0);
    if (e.body.kind === 'raw') {
      expect(reader.payload(i)).toEqual(e.body.bytes);
    } else {
      expect(reader.payload(i)).toEqual(codec.encode(e.body.value));
      expect(reader.decode(i)).toEqual(e.body.value);
    }
  });
}

describe('batch codec', () => {
  it('round-trips arbitrary batches: datasets, unicode keys, ns timestamps, empty and raw payloads, events (property)', () => {
    const writer = new BatchWriter(codec, { initialBytes: 0 });
    const reader = new BatchReader(codec);
    fc.assert(
      fc.property(batchArb, fc.boolean(), (batch, shared) => {
        const bytes = writeBatch(writer, batch);
        expect(bytes.length % 8).toBe(0);
        expect(bytes.length).toBe(writer.byteLength);
        if (shared) reader.reset(inSharedMemory(bytes), 64, bytes.length);
        else reader.reset(bytes);
        expect(reader.byteLength).toBe(bytes.length);
        checkBatch(reader, batch);
      }),
      { numRuns: 300 },
    );
  });

  it('reads dataset, keys and timestamps without decoding a payload', () => {
    const local = new Codec(STRUCTURES);
    const decode = vi.spyOn(local, 'decode');
    const writer = new BatchWriter(local).begin('http_requests');
    // Payloads that are not msgpack at all: reading the envelope must not care.
    writer.add('zone-1', 1.5, Uint8Array.of(0xc1, 0xc1, 0xc1));
    writer.add('zone-2', 2e18, Uint8Array.of(0xdd, 0xff));
    writer.add('zone-1', 3, new Uint8Array(0));
    const reader = new BatchReader(local).reset(inSharedMemory(writer.finish()), 64);
    expect(reader.dataset).toBe('http_requests');
    expect([0, 1, 2].map((i) => reader.key(i))).toEqual(['zone-1', 'zone-2', 'zone-1']);
    expect([0, 1, 2].map((i) => reader.keyIndex(i))).toEqual([0, 1, 0]);
    expect([0, 1, 2].map((i) => reader.timestamp(i))).toEqual([1.5, 2e18, 3]);
    expect([0, 1, 2].map((i) => reader.payloadLength(i))).toEqual([3, 2, 0]);
    expect(decode).not.toHaveBeenCalled();
    expect(codeOf(() => reader.decode(1))).toBe('ERR_CODEC_MALFORMED');
    expect(codeOf(() => reader.decode(2))).toBe('ERR_CODEC_MALFORMED');
  });

  it('reads back every key exactly, batch after batch, whatever the remembered keys hold (property)', () => {
    const local = new Codec(STRUCTURES);
    const writer = new BatchWriter(local);
    const reader = new BatchReader(local);
    // Many short ASCII keys (more than the reader remembers, so slots are taken over), keys that
    // differ in one byte or only in length, and long or non-ASCII keys that are never remembered.
    const keyArb = fc.oneof(
      fc.integer({ min: 0, max: 50_000 }).map(String),
      fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\u007f'), maxLength: 6 }),
      fc.string({ minLength: 30, maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(keyArb, { minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 6 }), (batches) => {
        for (const keys of batches) {
          writer.begin('http_requests');
          for (const key of keys) writer.add(key, 1, Uint8Array.of(0xc0));
          reader.reset(writer.finish());
          expect(Array.from({ length: keys.length }, (_, i) => reader.key(i))).toEqual(keys);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reads a key as a number exactly when Number() makes the same of it from plain digits, else -1 (property)', () => {
    const writer = new BatchWriter(codec);
    const reader = new BatchReader(codec);
    const keyArb = fc.oneof(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }).map(String),
      fc.constantFrom('0', '00', '007', '1e3', ' 7', '7 ', '+7', '-7', '7.0', '0x10', '', '999999999999999', '1000000000000000', '٣'),
      fc.string({ unit: fc.constantFrom('0', '1', '9', 'a', '.', '-'), maxLength: 17 }),
    );
    fc.assert(
      fc.property(fc.uniqueArray(keyArb, { minLength: 1, maxLength: 50 }), (keys) => {
        writer.begin('http_requests');
        for (const key of keys) writer.add(key, 1, Uint8Array.of(0xc0));
        reader.reset(writer.finish());
        for (let k = 0; k < reader.keyCount; k++) {
          const n = reader.keyNumber(k);
          const key = reader.keyByIndex(k);
          const plain = /^(0|[1-9][0-9]{0,14})$/.test(key);
          expect(n).toBe(plain ? Number(key) : -1);
        }
      }),
      { numRuns: 300 },
    );
    expect(() => reader.keyNumber(99)).toThrow();
  });

  it('forwards a subset of events by payload range: identical payload bytes, nothing re-encoded (property)', () => {
    const source = new BatchWriter(codec);
    const forward = new BatchWriter(codec);
    const reader = new BatchReader(codec);
    const forwarded = new BatchReader(codec);
    fc.assert(
      fc.property(batchArb, fc.func(fc.boolean()), fc.boolean(), (batch, keep, shared) => {
        const bytes = writeBatch(source, batch);
        reader.reset(shared ? inSharedMemory(bytes) : bytes, shared ? 64 : 0, bytes.length);
        const picked: number[] = [];
        forward.begin(reader.dataset);
        for (let i = 0; i < reader.count; i++) {
          if (!keep(reader.key(i), i)) continue;
          forward.addFrom(reader, i);
          picked.push(i);
        }
        forwarded.reset(forward.finish());
        expect(forwarded.dataset).toBe(batch.dataset);
        expect(forwarded.count).toBe(picked.length);
        expect(forwarded.keyCount).toBe(new Set(picked.map((i) => reader.key(i))).size);
        picked.forEach((i, j) => {
          expect(forwarded.key(j)).toBe(reader.key(i));
          expect(Object.is(forwarded.timestamp(j), reader.timestamp(i))).toBe(true);
          expect(forwarded.payload(j)).toEqual(reader.payload(i));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('tryForward makes the same batch as tryAddFrom, answers its byteLength, and -1 where tryAddFrom is full (property)', () => {
    const source = new BatchWriter(codec);
    const reader = new BatchReader(codec);
    fc.assert(
      fc.property(batchArb, fc.func(fc.boolean()), fc.boolean(), fc.integer({ min: 256, max: 4096 }), (batch, keep, shared, maxBytes) => {
        const bytes = writeBatch(source, batch);
        reader.reset(shared ? inSharedMemory(bytes) : bytes, shared ? 64 : 0, bytes.length);
        const byForward = new BatchWriter(codec, { maxBytes, initialBytes: 64 }).begin(reader.dataset);
        const byAddFrom = new BatchWriter(codec, { maxBytes, initialBytes: 64 }).begin(reader.dataset);
        for (let i = 0; i < reader.count; i++) {
          if (!keep(reader.key(i), i)) continue;
          let added: boolean;
          try {
            added = byAddFrom.tryAddFrom(reader, i);
          } catch (error) {
            // Too large for any batch: tryForward refuses it the same way.
            expect(codeOf(() => byForward.tryForward(reader, i))).toBe((error as CodecError).code);
            continue;
          }
          const answer = byForward.tryForward(reader, i);
          expect(answer).toBe(added ? byAddFrom.byteLength : -1);
          expect(byForward.byteLength).toBe(byAddFrom.byteLength);
        }
        expect(Buffer.from(byForward.finish())).toEqual(Buffer.from(byAddFrom.finish()));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps each key once in a batch whichever method adds it, zones as numbers or strings, and reads every key back (property)', () => {
    const source = new BatchWriter(codec);
    const reader = new BatchReader(codec);
    const writer = new BatchWriter(codec);
    const out = new BatchReader(codec);
    fc.assert(
      fc.property(batchArb, fc.array(fc.constantFrom('forward', 'add', 'addEvent'), { minLength: 40, maxLength: 40 }), (batch, methods) => {
        reader.reset(writeBatch(source, batch));
        writer.begin(reader.dataset);
        const keys: string[] = [];
        for (let i = 0; i < reader.count; i++) {
          const key = reader.key(i);
          const method = methods[i]!;
          if (method === 'forward') expect(writer.tryForward(reader, i)).toBeGreaterThan(0);
          else if (method === 'add') writer.add(key, i, Uint8Array.of(0xc0));
          else writer.addEvent(key, i, null);
          keys.push(key);
        }
        out.reset(writer.finish());
        expect(Array.from({ length: out.count }, (_, i) => out.key(i))).toEqual(keys);
        expect(out.keyCount).toBe(new Set(keys).size);
      }),
      { numRuns: 300 },
    );
  });

  it('tryAddZone makes the same batch as tryAdd(String(zone)), full at the same event, mixed with string keys or not (property)', () => {
    const zoneArb = fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(999_999_999_999_999, 1e15, Number.MAX_SAFE_INTEGER),
    );
    const stepArb = fc.record({
      key: fc.oneof(zoneArb, fc.constantFrom('zone-1', '007', 'ü', '5', '1000000000000000')),
      payload: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 80 }), fc.integer({ min: 256, max: 8192 }), (steps, maxBytes) => {
        const byZone = new BatchWriter(codec, { maxBytes, initialBytes: 64 }).begin('http_requests');
        const byString = new BatchWriter(codec, { maxBytes, initialBytes: 64 }).begin('http_requests');
        for (const [i, { key, payload }] of steps.entries()) {
          let added: boolean;
          try {
            added = byString.tryAdd(String(key), i, payload);
          } catch (error) {
            expect(codeOf(() => (typeof key === 'number' ? byZone.tryAddZone(key, i, payload) : byZone.tryAdd(key, i, payload)))).toBe((error as CodecError).code);
            continue;
          }
          expect(typeof key === 'number' ? byZone.tryAddZone(key, i, payload) : byZone.tryAdd(key, i, payload)).toBe(added);
          expect(byZone.byteLength).toBe(byString.byteLength);
        }
        expect(Buffer.from(byZone.finish())).toEqual(Buffer.from(byString.finish()));
      }),
      { numRuns: 300 },
    );
    const writer = new BatchWriter(codec).begin('http_requests');
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => writer.tryAddZone(bad, 0, Uint8Array.of(0xc0))).toThrow(/zone key must be a non-negative safe integer/);
  });

  it('passes a batch through a shared-memory ring and decodes it from the ring view', () => {
    const producer = new RingProducer(createRing({ capacity: 1 << 16 }));
    const consumer = new RingConsumer(producer.ring);
    const writer = new BatchWriter(codec).begin('http_requests');
    const events = Array.from({ length: 50 }, (_, i) => ({ zone: i % 7, status: 200, path: `/p/${i}`, bytes: i * 100, start: 1.7e18 + i }));
    for (const e of events) writer.addEvent(`zone-${e.zone}`, e.start, e);
    const offset = producer.tryClaim(1, writer.byteLength);
    expect(offset).toBeGreaterThanOrEqual(0);
    writer.writeTo(producer.ring.bytes, offset);
    producer.commit();
    const reader = new BatchReader(codec);
    const decoded: unknown[] = [];
    consumer.read((_type, bytes, at, length) => {
      expect(bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
      reader.reset(bytes, at, length);
      for (let i = 0; i < reader.count; i++) decoded.push(reader.decode(i));
    });
    consumer.release();
    expect(decoded).toEqual(events);
    expect(reader.key(3)).toBe('zone-3');
  });

  it('decodes events of an unknown shape (structure written inline) without changing the shared structures', () => {
    const writer = new BatchWriter(codec).begin('other');
    const odd = { path: '/x', zone: 1, extra: [1, 2, { deep: true }] };
    writer.addEvent('k', 0, odd);
    writer.addEvent('k', 0, { zone: 1, status: 2, path: '/', bytes: 3, start: 4 });
    const fresh = new Codec(STRUCTURES);
    const reader = new BatchReader(fresh).reset(writer.finish());
    expect(reader.decode(0)).toEqual(odd);
    expect(reader.decode(1)).toEqual({ zone: 1, status: 2, path: '/', bytes: 3, start: 4 });
    // The known shape still gets the one-byte record id: a fresh codec's encoding is identical.
    expect(reader.payload(1)).toEqual(fresh.encode({ zone: 1, status: 2, path: '/', bytes: 3, start: 4 }));
    expect(codec.spec).toEqual(STRUCTURES);
  });

  it('decodes a payload given in shared memory by copying it out (Codec.decode)', () => {
    const bytes = codec.encode({ name: 'x'.repeat(200), value: 'y'.repeat(300) });
    const shared = inSharedMemory(bytes, 8);
    expect(codec.decode(shared, 8, 8 + bytes.length)).toEqual({ name: 'x'.repeat(200), value: 'y'.repeat(300) });
    expect(codeOf(() => codec.decode(shared, 8, 8 + bytes.length - 1))).toBe('ERR_CODEC_MALFORMED');
  });

  it('decodes plain msgpack maps (payloads from outside) as objects', () => {
    const plain = pack({ a: 1, b: 'two', nested: { c: [3] } });
    const reader = new BatchReader(codec).reset(new BatchWriter(codec).begin('d').finish());
    expect(reader.count).toBe(0);
    const writer = new BatchWriter(codec).begin('d');
    writer.add('k', 1, plain);
    expect(reader.reset(writer.finish()).decode(0)).toEqual({ a: 1, b: 'two', nested: { c: [3] } });
  });

  it('encodes events larger than the encoding headroom and grows from a small buffer', () => {
    const writer = new BatchWriter(codec, { initialBytes: 0 }).begin('big');
    const big = { name: 'x'.repeat(100_000), value: 'é'.repeat(5000) };
    writer.addEvent('k', 1, big);
    for (let i = 0; i < 100; i++) writer.addEvent(`k${i % 3}`, i, { name: `n${i}`, value: i });
    const reader = new BatchReader(codec).reset(writer.finish());
    expect(reader.decode(0)).toEqual(big);
    expect(reader.decode(100)).toEqual({ name: 'n99', value: 99 });
    expect(reader.keyCount).toBe(4);
  });

  it('keeps other msgpackr users out of the writer buffer', () => {
    const writer = new BatchWriter(codec).begin('d');
    writer.addEvent('k', 1, { name: 'a', value: 1 });
    const foreign = pack({ hello: 'world' });
    const foreignCopy = Uint8Array.from(foreign);
    for (let i = 0; i < 200; i++) writer.addEvent('k', i, { name: `event ${i}`, value: i });
    expect(Uint8Array.from(foreign)).toEqual(foreignCopy);
    expect(unpack(foreign)).toEqual({ hello: 'world' });
    expect(new BatchReader(codec).reset(writer.finish()).decode(200)).toEqual({ name: 'event 199', value: 199 });
  });
});

describe('structures', () => {
  it('gives equal lists equal fingerprints, and any change a different one', () => {
    expect(new Codec(STRUCTURES).fingerprint).toBe(codec.fingerprint);
    expect(structuresFingerprint({ version: 8, structures: STRUCTURES.structures })).not.toBe(codec.fingerprint);
    expect(structuresFingerprint({ version: 7, structures: [['status', 'zone', 'path', 'bytes', 'start'], ['name', 'value']] })).not.toBe(
      codec.fingerprint,
    );
    expect(structuresFingerprint({ version: 7, structures: [REQUEST_FIELDS] })).not.toBe(codec.fingerprint);
  });

  it('refuses to decode or forward a batch encoded with other structures (ERR_CODEC_STRUCTURES)', () => {
    const other = new Codec({ version: 8, structures: [['name', 'value'], REQUEST_FIELDS] });
    const writer = new BatchWriter(codec).begin('d');
    writer.addEvent('zone-1', 5, { zone: 1, status: 200, path: '/', bytes: 10, start: 5 });
    const batch = writer.finish();
    const reader = new BatchReader(other).reset(batch);
    // The envelope needs no structures: routing still works.
    expect(reader.key(0)).toBe('zone-1');
    const error = thrown(() => reader.decode(0));
    expect(error.code).toBe('ERR_CODEC_STRUCTURES');
    expect(error.message).toContain('version 7');
    expect(error.message).toContain('version 8');
    expect(error.message).toContain(`0x${codec.fingerprint.toString(16).padStart(8, '0')}`);
    expect(error.message).toContain(`0x${other.fingerprint.toString(16).padStart(8, '0')}`);
    expect(codeOf(() => new BatchWriter(other).begin('d').addFrom(reader, 0))).toBe('ERR_CODEC_STRUCTURES');
  });

  it('validates a structures list at the boundary', () => {
    const bad: unknown[] = [
      null,
      { version: -1, structures: [] },
      { version: 1.5, structures: [] },
      { version: 1 },
      { version: 1, structures: [[]] },
      { version: 1, structures: [['a', 2]] },
      { version: 1, structures: [['a', 'a']] },
      { version: 1, structures: [['a'], ['a']] },
      { version: 1, structures: Array.from({ length: MAX_SHARED_STRUCTURES + 1 }, (_, i) => [`f${i}`]) },
    ];
    for (const spec of bad) expect(codeOf(() => new Codec(spec as CodecStructures))).toBe('ERR_CODEC_STRUCTURES');
    const full = new Codec({ version: 1, structures: Array.from({ length: MAX_SHARED_STRUCTURES }, (_, i) => [`f${i}`, 'x']) });
    const writer = new BatchWriter(full).begin('d');
    for (let i = 0; i < MAX_SHARED_STRUCTURES; i++) writer.addEvent('k', i, { [`f${i}`]: i, x: 'y' });
    const reader = new BatchReader(full).reset(writer.finish());
    for (let i = 0; i < MAX_SHARED_STRUCTURES; i++) expect(reader.decode(i)).toEqual({ [`f${i}`]: i, x: 'y' });
  });

  it('does not let a corrupt payload redefine a shared structure for later events', () => {
    const writer = new BatchWriter(codec).begin('d');
    // A record definition for shared id 0x40 (['x', 'y']), as only corrupt or foreign bytes hold.
    writer.add('k', 0, Uint8Array.from([0xd4, 0x72, 0x40, 0x92, 0xa1, 0x78, 0xa1, 0x79, 0x01, 0x02]));
    writer.addEvent('k', 0, { zone: 1, status: 2, path: '/', bytes: 3, start: 4 });
    const reader = new BatchReader(codec).reset(writer.finish());
    expect(reader.decode(0)).toEqual({ x: 1, y: 2 });
    expect(reader.decode(1)).toEqual({ zone: 1, status: 2, path: '/', bytes: 3, start: 4 });
  });
});

describe('malformed batches', () => {
  const writer = new BatchWriter(codec);
  writer.begin('http_requests');
  writer.addEvent('zone-1', 1, { zone: 1, status: 200, path: '/a', bytes: 10, start: 1 });
  writer.addEvent('zone-2', 2, { name: 'n', value: [1, 2, 3] });
  writer.add('zone-1', 3, pack('plain'));
  const good = Uint8Array.from(writer.finish());
  const sections = batchSections(new DataView(good.buffer).getUint32(20, true), 3, 2, 'http_requests'.length + 12);

  function corrupt(edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
    const bytes = Uint8Array.from(good);
    edit(new DataView(bytes.buffer), bytes);
    return bytes;
  }

  it('throws ERR_CODEC_MALFORMED naming the values', () => {
    const reader = new BatchReader(codec);
    const cases: [string, Uint8Array, RegExp][] = [
      ['shorter than a header', good.subarray(0, HEADER_LENGTH - 1), /39 bytes is shorter than its 40-byte header/],
      ['truncated', good.subarray(0, good.length - 8), new RegExp(`says ${good.length} bytes but only ${good.length - 8}`)],
      ['bad magic', corrupt((v) => v.setUint32(MAGIC_OFFSET, 0xdeadbeef, true)), /magic is 0xdeadbeef, not 0x54424253/],
      ['layout version', corrupt((v) => v.setUint16(VERSION_OFFSET, 9, true)), /layout version is 9/],
      ['count', corrupt((v) => v.setUint32(12, 1000, true)), /1000 events/],
      [
        'payload end out of range',
        corrupt((v) => v.setUint32(sections.table + ENTRY_LENGTH + ENTRY_PAYLOAD_END_OFFSET, 0xffff, true)),
        /event 1 payload spans \d+\.\.65535/,
      ],
      ['key index out of range', corrupt((v) => v.setUint32(sections.table + ENTRY_KEY_INDEX_OFFSET, 5, true)), /event 0 names key 5, but the batch has 2 keys/],
      ['key end out of range', corrupt((v) => v.setUint32(sections.keyEnds, 9999, true)), /key 0 spans string bytes/],
      ['invalid UTF-8 key', corrupt((_, b) => b.set([0xff], sections.strings + 'http_requests'.length)), /key 0 .* is not valid UTF-8/],
    ];
    for (const [name, bytes, message] of cases) {
      const error = thrown(() => reader.reset(bytes));
      expect(error.code, name).toBe('ERR_CODEC_MALFORMED');
      expect(error.message, name).toMatch(message);
      // A refused batch leaves an empty reader, not half of one.
      reader.reset(good);
      expect(() => reader.reset(bytes)).toThrow(CodecError);
      expect(reader.count, name).toBe(0);
      expect(reader.keyCount, name).toBe(0);
      expect(reader.dataset, name).toBe('');
      expect(codeOf(() => reader.key(0))).toBe('ERR_CODEC_INDEX');
    }
    expect(codeOf(() => reader.reset(good, 8, good.length))).toBe('ERR_CODEC_MALFORMED');
  });

  it('throws ERR_CODEC_MALFORMED for a corrupt payload, naming the event and its bytes', () => {
    const bytes = corrupt((_, b) => b.set([0xdd, 0xff, 0xff], PAYLOADS_OFFSET + align8(new DataView(good.buffer).getUint32(sections.table + 12, true))));
    const reader = new BatchReader(codec).reset(bytes);
    expect(reader.decode(0)).toEqual({ zone: 1, status: 200, path: '/a', bytes: 10, start: 1 });
    const error = thrown(() => reader.decode(1));
    expect(error.code).toBe('ERR_CODEC_MALFORMED');
    expect(error.message).toMatch(/payload of event 1 \(bytes \d+\.\.\d+, \d+ bytes\) is not valid msgpack/);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('never fails any other way on truncations and bit flips (fuzz)', () => {
    const reader = new BatchReader(codec);
    const allowed = new Set<CodecErrorCode>(['ERR_CODEC_MALFORMED', 'ERR_CODEC_STRUCTURES']);
    const mutation = fc.oneof(
      fc.record({ truncate: fc.nat() }),
      fc.record({ flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 }) }),
      fc.record({ bytes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }) }),
    );
    fc.assert(
      fc.property(batchArb, mutation, fc.boolean(), (batch, m, shared) => {
        const clean = Uint8Array.from(writeBatch(writer, batch));
        let bytes = clean;
        if ('truncate' in m) bytes = clean.subarray(0, m.truncate % (clean.length + 1));
        else if ('flips' in m) for (const [at, bit] of m.flips) bytes[at % bytes.length]! ^= 1 << bit;
        else for (const [at, value] of m.bytes) bytes[at % bytes.length] = value;
        const view = shared ? inSharedMemory(bytes) : bytes;
        const run = (): void => {
          reader.reset(view, shared ? 64 : 0, bytes.length);
          for (let i = 0; i < reader.count; i++) {
            reader.key(i);
            reader.timestamp(i);
            reader.payload(i);
            try {
              reader.decode(i);
            } catch (error) {
              if (!(isCodecError(error) && allowed.has(error.code))) throw error;
            }
          }
        };
        try {
          run();
        } catch (error) {
          if (!(isCodecError(error) && allowed.has(error.code))) throw error;
        }
        // Whatever the corrupt bytes did, the clean batch still decodes as written.
        checkBatch(reader.reset(writeBatch(writer, batch)), batch);
      }),
      { numRuns: 400 },
    );
  });

  it('refuses indices outside the batch', () => {
    const reader = new BatchReader(codec).reset(good);
    for (const i of [-1, 3, 1.5, Number.NaN, 2 ** 32]) {
      expect(codeOf(() => reader.timestamp(i))).toBe('ERR_CODEC_INDEX');
      expect(codeOf(() => reader.decode(i))).toBe('ERR_CODEC_INDEX');
    }
    expect(codeOf(() => reader.keyByIndex(2))).toBe('ERR_CODEC_INDEX');
  });

  it('keeps the magic constant in the bytes where the layout says', () => {
    expect(new DataView(good.buffer).getUint32(MAGIC_OFFSET, true)).toBe(BATCH_MAGIC);
    expect(String.fromCharCode(...good.subarray(0, 4))).toBe('SBBT');
  });
});

describe('BatchWriter limits and state', () => {
  it('stops at maxBytes: tryAdd returns false, add throws naming both sizes, the batch stays intact', () => {
    const maxBytes = 4096;
    const writer = new BatchWriter(codec, { maxBytes }).begin('d');
    let added = 0;
    while (writer.tryAddEvent(`zone-${added % 5}`, added, { name: `event ${added}`, value: 'v'.repeat(50) })) added++;
    expect(added).toBeGreaterThan(10);
    expect(writer.byteLength).toBeLessThanOrEqual(maxBytes);
    const before = writer.byteLength;
    const error = thrown(() => writer.addEvent('zone-new', 0, { name: 'one more', value: 'v'.repeat(50) }));
    expect(error.code).toBe('ERR_CODEC_TOO_LARGE');
    expect(error.message).toContain(`maxBytes of ${maxBytes}`);
    expect(error.message).toContain(`batch of ${before} bytes`);
    expect(codeOf(() => writer.add('zone-new', 0, new Uint8Array(100)))).toBe('ERR_CODEC_TOO_LARGE');
    expect(writer.count).toBe(added);
    expect(writer.byteLength).toBe(before);
    const batch = writer.finish();
    expect(batch.length).toBe(before);
    const reader = new BatchReader(codec).reset(batch);
    expect(reader.count).toBe(added);
    expect(reader.keyCount).toBe(5);
    expect(reader.decode(added - 1)).toEqual({ name: `event ${added - 1}`, value: 'v'.repeat(50) });
  });

  it('never finishes a batch past maxBytes, whatever the payload sizes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 8192 }), fc.array(fc.tuple(fc.string(), fc.nat({ max: 3000 })), { maxLength: 60 }), (maxBytes, adds) => {
        const writer = new BatchWriter(codec, { maxBytes, initialBytes: 0 }).begin('ds');
        for (const [key, size] of adds) {
          try {
            if (!writer.tryAdd(key, size, new Uint8Array(size))) break;
          } catch (error) {
            if (!isCodecError(error, 'ERR_CODEC_TOO_LARGE')) throw error;
          }
        }
        const predicted = writer.byteLength;
        const batch = writer.finish();
        expect(batch.length).toBe(predicted);
        expect(batch.length).toBeLessThanOrEqual(maxBytes);
        expect(new BatchReader(codec).reset(batch).count).toBe(writer.count);
      }),
      { numRuns: 200 },
    );
  });

  it('throws ERR_CODEC_TOO_LARGE for an event no batch can hold, even from tryAdd', () => {
    const writer = new BatchWriter(codec, { maxBytes: 1024 }).begin('d');
    const error = thrown(() => writer.tryAddEvent('k', 0, { name: 'x'.repeat(2000), value: 1 }));
    expect(error.code).toBe('ERR_CODEC_TOO_LARGE');
    expect(error.message).toMatch(/needs a batch of \d+ bytes on its own, over maxBytes of 1024/);
    expect(codeOf(() => writer.tryAdd('k', 0, new Uint8Array(1000)))).toBe('ERR_CODEC_TOO_LARGE');
    expect(codeOf(() => new BatchWriter(codec, { maxBytes: 64 }).begin('d'.repeat(100)))).toBe('ERR_CODEC_TOO_LARGE');
    expect(writer.count).toBe(0);
  });

  it('checks its options, its order of calls and what it is given', () => {
    for (const maxBytes of [0, 63, 2 ** 31, 1.5]) expect(codeOf(() => new BatchWriter(codec, { maxBytes }))).toBe('ERR_CODEC_OPTIONS');
    expect(codeOf(() => new BatchWriter(codec, { maxBytes: 1024, initialBytes: 2048 }))).toBe('ERR_CODEC_OPTIONS');
    const writer = new BatchWriter(codec);
    expect(codeOf(() => writer.add('k', 0, new Uint8Array(1)))).toBe('ERR_CODEC_STATE');
    writer.begin('d').add('k', 0, Uint8Array.of(1));
    const first = writer.finish();
    expect(writer.finish()).toEqual(first);
    expect(codeOf(() => writer.addEvent('k', 0, 1))).toBe('ERR_CODEC_STATE');
    writer.begin('d');
    for (const key of ['bad \ud800 key', '\udc00', 'end \ud83d', '\ud83d\ud83d\ude00x']) {
      expect(codeOf(() => writer.add(key, 0, Uint8Array.of(1)))).toBe('ERR_CODEC_ENCODE');
    }
    writer.add('ok \ud83d\ude00', 0, Uint8Array.of(1));
    expect(new BatchReader(codec).reset(writer.finish()).key(0)).toBe('ok \ud83d\ude00');
    expect(codeOf(() => writer.begin('bad \udc00'))).toBe('ERR_CODEC_ENCODE');
    writer.begin('d');
    expect(codeOf(() => writer.add('k', 0, Uint8Array.of(1, 2), 1, 5))).toBe('ERR_CODEC_ENCODE');
    expect(codeOf(() => writer.addEvent('k', 0, 2n ** 70n))).toBe('ERR_CODEC_ENCODE');
    expect(writer.count).toBe(0);
    writer.add('k', 0, Uint8Array.of(7));
    expect(codeOf(() => writer.writeTo(new Uint8Array(writer.byteLength - 1), 0))).toBe('ERR_CODEC_TOO_LARGE');
    const target = new Uint8Array(writer.byteLength + 16);
    expect(writer.writeTo(target, 16)).toBe(writer.byteLength);
    expect(new BatchReader(codec).reset(target, 16).payload(0)).toEqual(Uint8Array.of(7));
  });

  it('zeroes every pad, so a batch never carries bytes of an earlier one', () => {
    const writer = new BatchWriter(codec);
    writer.begin('first');
    for (let i = 0; i < 20; i++) writer.add('k', i, new Uint8Array(13).fill(0xab));
    writer.finish();
    writer.begin('second');
    writer.add('k', 0, Uint8Array.of(1));
    writer.addEvent('k', 0, { name: 'n', value: 1 });
    const batch = writer.finish();
    expect(batch.includes(0xab)).toBe(false);
  });
});
