import { describe, expect, it } from 'vitest';
import { createRing, attachRing, type RingKind } from '../../src/native/ring.js';
import { RingProducer, type Producer } from '../../src/native/ring-producer.js';
import { ManyToOneProducer } from '../../src/native/many-to-one-producer.js';
import { RingConsumer } from '../../src/native/ring-consumer.js';
import { BackoffIdleStrategy } from '../../src/native/idle-strategy.js';
import { checkRecord } from './fixtures/records.js';
import { firstMessage, startWorker } from '../helpers/workers.js';

const CONSUMER = new URL('./fixtures/ring-consumer.worker.ts', import.meta.url);
const PRODUCER = new URL('./fixtures/ring-producer.worker.ts', import.meta.url);

function seqRecord(seq: number): Uint8Array {
  const out = new Uint8Array(24);
  new DataView(out.buffer).setUint32(0, seq, true);
  return out;
}

describe.each(['one-to-one', 'many-to-one'] as RingKind[])('a consumer crash between read and release (%s)', (kind) => {
  it('leaves the unreleased records for the successor: nothing lost', async () => {
    const sab = createRing({ capacity: 64 * 1024, kind });
    const ring = attachRing(sab);
    const producer: Producer = kind === 'one-to-one' ? new RingProducer(ring) : new ManyToOneProducer(ring);
    const total = 1500;
    for (let seq = 0; seq < total; seq++) expect(producer.tryWrite(1, seqRecord(seq))).toBe(true);

    const first = startWorker(CONSUMER, { workerData: { sab, release: 400, unreleased: 300 } });
    const seen = await firstMessage<{ seqs: number[]; unreleasedBytes: number }>(first);
    expect(seen.seqs).toEqual(Array.from({ length: 700 }, (_, i) => i));
    expect(seen.unreleasedBytes).toBe(300 * 32);
    await first.terminate();

    // The successor attaches to the same buffer and starts at the first unreleased record.
    const successor = new RingConsumer(sab);
    const again: number[] = [];
    successor.read((_t, bytes, offset) => again.push(new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0, true)));
    successor.release();
    expect(again).toEqual(Array.from({ length: total - 400 }, (_, i) => 400 + i));
  });
});

describe('a full ring', () => {
  it('makes producers wait and resume while the consumer stalls; nothing lost, heap flat', async () => {
    const seed = (Math.random() * 2 ** 31) | 0;
    const sab = createRing({ capacity: 16 * 1024, kind: 'many-to-one' });
    const perProducer = 200_000;
    const workers = [0, 1].map((producer) =>
      startWorker(PRODUCER, { workerData: { sab, producer, count: perProducer, seed, maxBody: 120, heapEvery: 5000 } }),
    );
    const done = workers.map((w) => firstMessage<{ waits: number; heap: number[] }>(w, 120_000));
    const consumer = new RingConsumer(sab);
    const next = [0, 0];
    const idle = new BackoffIdleStrategy();
    let received = 0;
    let stalls = 0;
    while (received < 2 * perProducer) {
      const n = consumer.read((_t, bytes, offset, length) => {
        const error = checkRecord(bytes, offset, length, seed, (p) => next[p] ?? -1, 120);
        if (error !== null) throw new Error(`${error} (seed ${seed})`);
        next[bytes[offset]!]!++;
      }, 1024);
      if (n === 0) {
        await idle.idle(consumer);
        continue;
      }
      consumer.release();
      received += n;
      // Every 100,000 records the consumer stops reading for 200 ms: the ring fills up.
      if (Math.floor(received / 100_000) > stalls) {
        stalls++;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const results = await Promise.all(done);
    expect(next).toEqual([perProducer, perProducer]);
    for (const r of results) {
      expect(r.waits).toBeGreaterThan(0);
      // A producer blocked on a full ring holds no queue of its own: its heap does not grow.
      const growth = Math.max(...r.heap.slice(4)) - Math.min(...r.heap.slice(4));
      expect(growth).toBeLessThan(8 * 1024 * 1024);
    }
  });
});
