import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRing, attachRing, type RingKind } from '../../src/native/ring.js';
import { RingProducer, type Producer } from '../../src/native/ring-producer.js';
import { ManyToOneProducer } from '../../src/native/many-to-one-producer.js';
import { RingConsumer } from '../../src/native/ring-consumer.js';
import { DATA_OFFSET, MAGIC_INDEX, VERSION_INDEX, maxPayloadLength } from '../../src/native/ring-descriptor.js';

function producerFor(sab: SharedArrayBuffer): Producer {
  const ring = attachRing(sab);
  return ring.kind === 'one-to-one' ? new RingProducer(ring) : new ManyToOneProducer(ring);
}

function payload(length: number, salt: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt * 7 + 1) & 0xff;
  return out;
}

function drain(consumer: RingConsumer, limit?: number): { type: number; data: Uint8Array; aligned: boolean }[] {
  const out: { type: number; data: Uint8Array; aligned: boolean }[] = [];
  consumer.read((type, bytes, offset, length) => {
    out.push({ type, data: bytes.slice(offset, offset + length), aligned: (bytes.byteOffset + offset) % 8 === 0 });
  }, limit);
  return out;
}

const kinds: RingKind[] = ['one-to-one', 'many-to-one'];

describe.each(kinds)('ring (%s)', (kind) => {
  it('round-trips any sequence of record sizes byte-exact and in order (property)', () => {
    const capacity = 4096;
    const max = maxPayloadLength(capacity);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            size: fc.oneof(fc.integer({ min: 0, max }), fc.constantFrom(0, max, max - 1, 1, 7, 8, 9)),
            // How many records the consumer takes before releasing: exercises partial reads.
            take: fc.integer({ min: 1, max: 5 }),
          }),
          { minLength: 1, maxLength: 200 },
        ),
        (steps) => {
          const sab = createRing({ capacity, kind });
          const producer = producerFor(sab);
          const consumer = new RingConsumer(sab);
          const sent: Uint8Array[] = [];
          const received: Uint8Array[] = [];
          let salt = 0;
          for (const step of steps) {
            const data = payload(step.size, salt++);
            while (!producer.tryWrite(7, data)) {
              const got = drain(consumer, step.take);
              expect(got.length).toBeGreaterThan(0);
              consumer.release();
              for (const r of got) received.push(r.data);
            }
            sent.push(data);
          }
          for (;;) {
            const got = drain(consumer);
            consumer.release();
            if (got.length === 0) break;
            for (const r of got) {
              expect(r.type).toBe(7);
              expect(r.aligned).toBe(true);
              received.push(r.data);
            }
          }
          expect(received.length).toBe(sent.length);
          for (let i = 0; i < sent.length; i++) expect(received[i]).toEqual(sent[i]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles records that end exactly at the wrap, one byte before it, and one byte past it', () => {
    const capacity = 1024;
    // Fillers bring the position to 64 bytes before the end; the record under test has a payload
    // of 56 (ends at the wrap), 55 (one byte before) or 57 (needs padding, lands at 0).
    for (const size of [56, 55, 57, 0, 120]) {
      const sab = createRing({ capacity, kind });
      const producer = producerFor(sab);
      const consumer = new RingConsumer(sab);
      const fillers = [...Array.from({ length: 7 }, () => 120), 56];
      for (const [i, f] of fillers.entries()) {
        expect(producer.tryWrite(1, payload(f, i))).toBe(true);
        if (i % 3 === 2) {
          drain(consumer);
          consumer.release();
        }
      }
      drain(consumer);
      consumer.release();
      const probe = payload(size, 2);
      const after = payload(100, 3);
      expect(producer.tryWrite(2, probe)).toBe(true);
      expect(producer.tryWrite(3, after)).toBe(true);
      const got = drain(consumer);
      expect(got.map((r) => r.type)).toEqual([2, 3]);
      expect(got[0]!.data).toEqual(probe);
      expect(got[1]!.data).toEqual(after);
      expect(got.every((r) => r.aligned)).toBe(true);
    }
  });

  it('reports full as -1, then takes records again after a release', () => {
    const sab = createRing({ capacity: 1024, kind });
    const producer = producerFor(sab);
    const consumer = new RingConsumer(sab);
    let written = 0;
    while (producer.tryWrite(1, payload(100, written))) written++;
    expect(written).toBe(9); // 9 records of 112 aligned bytes in 1024
    expect(producer.tryClaim(1, 100)).toBe(-1);
    // A whole lap read without a release returns each record once, never the first one again.
    expect(drain(consumer).length).toBe(9);
    expect(drain(consumer).length).toBe(0);
    consumer.rewind();
    expect(drain(consumer, 2).length).toBe(2);
    expect(producer.tryClaim(1, 100)).toBe(-1); // read is not release
    consumer.release();
    expect(producer.tryWrite(1, payload(100, 99))).toBe(true);
  });

  it('commits a shorter payload than claimed and skips an aborted claim', () => {
    const sab = createRing({ capacity: 1024, kind });
    const producer = producerFor(sab);
    const consumer = new RingConsumer(sab);
    const offset = producer.tryClaim(4, 64);
    producer.ring.bytes.set(payload(10, 5), offset);
    producer.commit(10);
    producer.tryClaim(5, 32);
    producer.abort();
    expect(producer.tryWrite(6, payload(3, 6))).toBe(true);
    const got = drain(consumer);
    expect(got.map((r) => [r.type, r.data.length])).toEqual([
      [4, 10],
      [6, 3],
    ]);
    expect(got[0]!.data).toEqual(payload(10, 5));
  });

  it('re-reads unreleased records after rewind and in a consumer attached later', () => {
    const sab = createRing({ capacity: 4096, kind });
    const producer = producerFor(sab);
    for (let i = 0; i < 10; i++) producer.tryWrite(1 + i, payload(20, i));
    const first = new RingConsumer(sab);
    expect(drain(first, 3).map((r) => r.type)).toEqual([1, 2, 3]);
    first.release();
    expect(drain(first, 4).map((r) => r.type)).toEqual([4, 5, 6, 7]);
    first.rewind();
    expect(drain(first, 1).map((r) => r.type)).toEqual([4]);
    // The first consumer "dies" here, having released only the first 3 records.
    const successor = new RingConsumer(sab);
    expect(drain(successor).map((r) => r.type)).toEqual([4, 5, 6, 7, 8, 9, 10]);
  });

  it('refuses a record larger than the ring can hold with a RangeError naming both sizes', () => {
    const sab = createRing({ capacity: 4096, kind });
    const producer = producerFor(sab);
    const max = maxPayloadLength(4096);
    expect(() => producer.tryClaim(1, max + 1)).toThrow(RangeError);
    expect(() => producer.tryClaim(1, max + 1)).toThrow(`record of ${max + 1} bytes exceeds the ring's maximum payload of ${max} bytes`);
    expect(() => producer.tryClaim(1, -1)).toThrow(RangeError);
    expect(() => producer.tryClaim(0, 8)).toThrow(/record type must be an integer from 1/);
    expect(() => producer.tryClaim(-1, 8)).toThrow(/got -1/);
    // A refused claim leaves the ring usable.
    expect(producer.tryWrite(1, payload(max, 1))).toBe(true);
  });
});

describe('ring construction and attach', () => {
  it('refuses capacities that are not a power of two, too small or too large', () => {
    for (const capacity of [0, 1000, 1023, 512, 3 * 1024, -4096, 2 ** 31, Number.NaN]) {
      expect(() => createRing({ capacity })).toThrow(RangeError);
    }
    expect(() => createRing({ capacity: 1000 })).toThrow('ring capacity must be a power of two between 1024 and 1073741824 bytes, got 1000');
    expect(() => createRing({ capacity: 1024, kind: 'sideways' as RingKind })).toThrow(/kind must be/);
  });

  it('refuses a foreign buffer, a wrong layout version and a buffer of the wrong size', () => {
    expect(() => attachRing(new SharedArrayBuffer(DATA_OFFSET + 1024))).toThrow(/not a Seatbelt ring: magic is 0x0/);
    expect(() => attachRing(new ArrayBuffer(4096) as unknown as SharedArrayBuffer)).toThrow(/expected a SharedArrayBuffer, got ArrayBuffer/);
    expect(() => attachRing(new SharedArrayBuffer(16))).toThrow(/smaller than the minimum ring/);
    const sab = createRing({ capacity: 1024 });
    const words = new Int32Array(sab);
    words[VERSION_INDEX] = 99;
    expect(() => attachRing(sab)).toThrow('ring layout version is 99, this build reads version 1');
    words[VERSION_INDEX] = 1;
    words[MAGIC_INDEX] = 0x1234;
    expect(() => attachRing(sab)).toThrow(/magic is 0x1234/);
  });

  it('refuses a producer of the wrong discipline', () => {
    expect(() => new RingProducer(createRing({ capacity: 1024, kind: 'many-to-one' }))).toThrow(/one-to-one/);
    expect(() => new ManyToOneProducer(createRing({ capacity: 1024 }))).toThrow(/many-to-one/);
  });
});

describe('many-to-one unblock', () => {
  it('turns the claim of a producer that died before commit into padding', () => {
    const sab = createRing({ capacity: 4096, kind: 'many-to-one' });
    const dead = new ManyToOneProducer(sab);
    const live = new ManyToOneProducer(sab);
    const consumer = new RingConsumer(sab);
    dead.tryClaim(1, 50); // never committed
    expect(live.tryWrite(2, payload(30, 1))).toBe(true);
    expect(drain(consumer)).toEqual([]);
    expect(consumer.hasData()).toBe(false);
    expect(consumer.occupiedBytes).toBeGreaterThan(0);
    expect(consumer.unblock()).toBe(true);
    const got = drain(consumer);
    expect(got.map((r) => r.type)).toEqual([2]);
    expect(consumer.unblock()).toBe(false);
  });
});
