import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchReader, BatchWriter, Codec } from '../../../src/runtime/codec.js';
import { Demultiplexer } from '../../../src/actors/logreceiver/demux.js';

const codec = new Codec({ version: 1, structures: [['zone', 'n']] });

function batchOf(dataset: string, events: { zone: number; n: number }[]): Uint8Array {
  const w = new BatchWriter(codec).begin(dataset);
  for (const e of events) w.addEvent(String(e.zone), e.n, e);
  return w.finish().slice();
}

describe('Logreceiver demultiplexer', () => {
  it('puts each event in exactly the batches of its zone\'s jobs, in order, bytes unchanged (property)', () => {
    fc.assert(
      fc.property(
        // zone -> jobs (slots 0..7), possibly several or none
        fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { maxLength: 3 }), { minLength: 5, maxLength: 5 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 80 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 40 }),
        // Small enough that the oldest batches are made ready to stay within it (flushOldest).
        fc.integer({ min: 256, max: 4096 }),
        (jobsOfZone, batches, targetBatchEvents, maxPendingBytes) => {
          const demux = new Demultiplexer(codec, (_d, zone) => jobsOfZone[Number(zone)]!, { targetBatchEvents, targetBatchBytes: 1 << 20, maxPendingBytes });
          const reader = new BatchReader(codec);
          const got = new Map<number, number[]>();
          const out = new BatchReader(codec);
          let n = 0;
          let unrouted = 0;
          const drain = (): void => {
            for (const r of demux.takeReady()) {
              out.reset(r.bytes);
              expect(out.count).toBe(r.events);
              expect(r.events).toBeLessThanOrEqual(targetBatchEvents);
              for (let i = 0; i < out.count; i++) {
                const e = out.decode(i) as { zone: number; n: number };
                expect(jobsOfZone[e.zone]).toContain(r.slot);
                expect(out.key(i)).toBe(String(e.zone));
                got.set(r.slot, [...(got.get(r.slot) ?? []), e.n]);
              }
            }
            demux.recycleAll();
          };
          const expected = new Map<number, number[]>();
          for (const zones of batches) {
            const events = zones.map((zone) => ({ zone, n: n++ }));
            for (const e of events) {
              if (jobsOfZone[e.zone]!.length === 0) unrouted++;
              for (const slot of jobsOfZone[e.zone]!) expected.set(slot, [...(expected.get(slot) ?? []), e.n]);
            }
            demux.add(reader.reset(batchOf('http_requests', events)), 0);
            expect(demux.pending).toBeLessThanOrEqual(maxPendingBytes);
            unrouted -= demux.unrouted;
            drain();
          }
          demux.flushAll();
          drain();
          expect(unrouted).toBe(0);
          expect(demux.pending).toBe(0);
          expect(new Map([...got].sort())).toEqual(new Map([...expected].sort()));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('past its pending-bytes budget, makes the oldest batches ready until 90% of it is left, and flushes old batches', () => {
    const demux = new Demultiplexer(codec, (_d, zone) => [Number(zone)], { maxPendingBytes: 4096, targetBatchEvents: 10_000, targetBatchBytes: 1 << 20 });
    const reader = new BatchReader(codec);
    demux.add(reader.reset(batchOf('http_requests', [{ zone: 1, n: 1 }])), 0);
    expect(demux.takeReady().length).toBe(0);
    demux.flushOlderThan(50, 100);
    expect(demux.takeReady().length).toBe(0);
    demux.flushOlderThan(150, 100);
    expect(demux.takeReady().map((r) => r.slot)).toEqual([1]);
    demux.recycleAll();
    // Jobs 0-49 open in that order; their batches pass the 4,096 bytes.
    const many = Array.from({ length: 200 }, (_, i) => ({ zone: i % 50, n: i }));
    demux.add(reader.reset(batchOf('http_requests', many)), 0);
    expect(demux.pending).toBeGreaterThan(4096 * 0.8);
    expect(demux.pending).toBeLessThanOrEqual(4096 * 0.9);
    const ready = demux.takeReady().map((r) => r.slot);
    // The oldest first, and no more than needed: the rest stay open.
    expect(ready.length).toBeGreaterThan(0);
    expect(ready).toEqual(Array.from({ length: ready.length }, (_, i) => i));
    expect(demux.openJobs).toBe(50 - ready.length);
    demux.recycleAll();
    demux.flushAll();
    expect(demux.takeReady().map((r) => r.slot)).toEqual(Array.from({ length: 50 - ready.length }, (_, i) => ready.length + i));
  });

  it('past its open-jobs limit, makes the oldest batches ready until 90% of it is left', () => {
    const demux = new Demultiplexer(codec, (_d, zone) => [Number(zone)], { maxOpenJobs: 20, targetBatchEvents: 10_000, targetBatchBytes: 1 << 20 });
    const reader = new BatchReader(codec);
    demux.add(reader.reset(batchOf('http_requests', Array.from({ length: 30 }, (_, i) => ({ zone: i, n: i })))), 0);
    expect(demux.openJobs).toBe(18);
    expect(demux.takeReady().map((r) => r.slot)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });
});

describe('a burst over many new jobs', () => {
  it('holds an open batch per job in a few kB, not a 16 KiB writer each', () => {
    const jobs = 10_000;
    const bytes = batchOf(
      'http_requests',
      Array.from({ length: jobs }, (_, i) => ({ zone: i + 1, n: i })),
    );
    const demux = new Demultiplexer(codec, (_dataset, key) => [Number(key)]);
    const reader = new BatchReader(codec);
    reader.reset(bytes);
    const before = process.memoryUsage().arrayBuffers;
    expect(demux.add(reader, 0)).toBe(jobs);
    const perJob = (process.memoryUsage().arrayBuffers - before) / jobs;
    expect(demux.openJobs).toBe(jobs);
    // ~5.4 kB a job: the first 2,048 writers get 16 KiB, the rest 1 KiB (with their tables and
    // strings, from Node's pool). 16 KiB writers for every job took ~16.6 kB a job (~19 kB with
    // encode headroom), enough for a burst of new jobs to stall the stage.
    expect(perJob).toBeLessThan(8_000);
    demux.flushAll();
    const ready = demux.takeReady();
    expect(ready.length).toBe(jobs);
    expect(ready.every((r) => r.events === 1)).toBe(true);
    demux.recycleAll();
  });
});

describe('writers and their buffers over a steady flow', () => {
  it('after the first round over 1,000 busy jobs, makes no new batch buffers; the free ones stay within the bound', () => {
    const maxPoolBytes = 32 << 20;
    const demux = new Demultiplexer(codec, (_d, key) => [Number(key)], { maxPoolBytes, targetBatchBytes: 16 * 1024 });
    const reader = new BatchReader(codec);
    // Job j gets (j % 7) + 1 events a round: batches of different sizes, so a writer that made a
    // large batch is reused for a small one.
    const round = batchOf('http_requests', Array.from({ length: 1000 }, (_, j) => Array.from({ length: (j % 7) + 1 }, (_, k) => ({ zone: j, n: k }))).flat());
    let afterFirst = 0;
    for (let r = 0; r < 6; r++) {
      demux.add(reader.reset(round), r);
      demux.flushAll();
      expect(demux.takeReady().length).toBe(1000);
      demux.recycleAll();
      // Every sent batch's buffer is back in the pool, within its bound.
      expect(demux.poolStats.freeBuffers).toBe(1000);
      expect(demux.poolStats.freeBytes).toBeLessThanOrEqual(maxPoolBytes);
      if (r === 0) afterFirst = demux.poolStats.allocated;
    }
    expect(demux.poolStats.allocated).toBe(afterFirst);
    expect(demux.poolStats.reused).toBeGreaterThanOrEqual(5 * 1000);
    expect(demux.poolStats.writers).toBe(1000);
  });

  it('flushOlderThan makes ready the batches opened before the cut, oldest first, and stops at the first young one', () => {
    const demux = new Demultiplexer(codec, (_d, key) => [Number(key)], { targetBatchEvents: 10_000, targetBatchBytes: 1 << 20 });
    const reader = new BatchReader(codec);
    for (let j = 0; j < 10; j++) demux.add(reader.reset(batchOf('http_requests', [{ zone: j, n: j }])), j * 10);
    // A later event for job 0 does not make its batch younger: it opened at 0.
    demux.add(reader.reset(batchOf('http_requests', [{ zone: 0, n: 99 }])), 95);
    demux.flushOlderThan(125, 100);
    expect(demux.takeReady().map((r) => [r.slot, r.events])).toEqual([[0, 2], [1, 1], [2, 1]]);
    demux.recycleAll();
    expect(demux.openJobs).toBe(7);
    demux.flushOlderThan(1000, 100);
    expect(demux.takeReady().map((r) => r.slot)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });
});
