/**
 * BatchWriter with a BufferPool (Logreceiver's demux): its batch buffer comes from the pool at its
 * size class, goes back when it grows and on release(), and a reused buffer's old bytes never show
 * in a batch (they could be another job's).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchReader, BatchWriter, Codec } from '../../src/runtime/codec.js';
import { BufferPool, classBytes } from '../../src/runtime/buffer-pool.js';

const codec = new Codec({ version: 3, structures: [['zone', 'path']] });

/** A pool whose free buffers, of every class up to 256 KiB, are full of 0xAA: whatever it hands out is dirty. */
function dirtyPool(): BufferPool {
  const pool = new BufferPool();
  const taken: ArrayBuffer[] = [];
  for (let size = 64; size <= 256 * 1024; size = classBytes(size + 1)) {
    for (let i = 0; i < 2; i++) {
      const ab = pool.take(size);
      new Uint8Array(ab).fill(0xaa);
      taken.push(ab);
    }
  }
  for (const ab of taken) pool.give(new Uint8Array(ab));
  return pool;
}

describe('BatchWriter with a BufferPool', () => {
  it('writes the same bytes as a writer of its own, whatever the pooled buffers held, batch after batch (property)', () => {
    const event = fc.record({ key: fc.constantFrom('1', '22', '333', 'zone-4'), payload: fc.uint8Array({ minLength: 0, maxLength: 3000 }) });
    fc.assert(
      fc.property(fc.array(fc.array(event, { maxLength: 60 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 4096 }), (batches, initial) => {
        const pool = dirtyPool();
        const pooled = new BatchWriter(codec, { initialBytes: 0, pool });
        for (const events of batches) {
          const own = new BatchWriter(codec, { initialBytes: 64 }).begin('http_requests');
          pooled.begin('http_requests', initial);
          // Payload lengths that are not multiples of 8 leave alignment gaps between payloads.
          events.forEach((e, i) => {
            own.add(e.key, i, e.payload);
            pooled.add(e.key, i, e.payload);
          });
          const a = own.finish();
          const b = pooled.finish();
          expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
          const reader = new BatchReader(codec).reset(b);
          expect(reader.count).toBe(events.length);
          pooled.release();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('gives its buffer back on release and when it grows; a small batch after a large one holds a small buffer', () => {
    const pool = new BufferPool();
    const writer = new BatchWriter(codec, { initialBytes: 0, pool });
    const payload = new Uint8Array(1000).fill(7);
    writer.begin('http_requests', 1024);
    for (let i = 0; i < 200; i++) writer.add('1', i, payload);
    writer.finish();
    // It grew 1 KiB → 256 KiB: each smaller buffer went back as the next was taken.
    expect(writer.capacityBytes).toBeGreaterThan(200_000);
    const grownFree = pool.freeBuffers;
    expect(grownFree).toBeGreaterThanOrEqual(8);
    writer.release();
    expect(pool.freeBuffers).toBe(grownFree + 1);
    expect(writer.capacityBytes).toBeLessThan(200_000);
    writer.begin('http_requests', 1024).add('1', 0, payload);
    expect(writer.finish().length).toBeLessThan(1100);
    // A 2 KiB buffer, with the table (4 KiB, kept from the large batch) and the strings.
    expect(writer.capacityBytes).toBeLessThan(8192);
    // The same 200-event batch again: every buffer from the pool, none made.
    writer.release();
    const made = pool.allocated;
    writer.begin('http_requests', 1024);
    for (let i = 0; i < 200; i++) writer.add('1', i, payload);
    writer.finish();
    writer.release();
    expect(pool.allocated).toBe(made);
  });

  it('grows to fit at finish, not to double', () => {
    // 160 payloads of 400 bytes fill 64,040 of the 65,536 bytes; finish needs ~2.7 kB more for the table.
    const writer = new BatchWriter(codec, { initialBytes: 64 * 1024 }).begin('http_requests');
    const payload = new Uint8Array(400);
    for (let i = 0; i < 160; i++) writer.add('1', i, payload);
    expect(writer.capacityBytes).toBeLessThan(70_000);
    const bytes = writer.finish();
    expect(bytes.length).toBeGreaterThan(64 * 1024);
    // Doubling made it 131,072 (and Logreceiver's pool, bounded by bytes, kept half as many).
    expect(writer.capacityBytes).toBeLessThan(100_000);
  });
});
