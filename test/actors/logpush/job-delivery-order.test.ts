/**
 * JobDelivery puts up to PUTS_PER_JOB objects at once and confirms them in the order they were
 * sealed (fast-check): over random runs of batches, seals, and puts that end in any order (done,
 * failed for now and tried again, or failed for good), never more than PUTS_PER_JOB puts are
 * pending; an ack for a batch comes only once every object with a line of that batch or before it
 * has ended; acks rise; and at the end every batch is acked, every event counted once in the
 * ledger (delivered, or destination_failed for the objects failed for good), nothing held. A stop
 * (close) at any point: puts in flight may still end, and still nothing is acked before every
 * object up to it ended (an object dropped by the stop is never covered by a later one's ack).
 * Retries wait for a `wait` step (setTimeout is faked).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { JobDelivery, PUTS_PER_JOB } from '../../../src/actors/logpush/job-delivery.js';
import { LogpushError } from '../../../src/actors/logpush/errors.js';
import type { UploadObject } from '../../../src/actors/logpush/upload-object.js';
import { Ledger } from '../../../src/actors/ledger.js';
import { BatchReader, BatchWriter } from '../../../src/runtime/codec.js';
import { EdgeGenerator } from '../../../src/actors/sources/edge-generator.js';

/** The promises' reactions behind a step (setTimeout is faked: retries wait for a `wait` step). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve));
};
const RETRY_MS = 1000;

type Step = { kind: 'add'; events: number } | { kind: 'seal' } | { kind: 'close' } | { kind: 'wait' } | { kind: 'end'; which: number; outcome: 'ok' | 'retry' | 'fail' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('add' as const), events: fc.integer({ min: 1, max: 6 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('seal' as const) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('end' as const), which: fc.nat(7), outcome: fc.constantFrom('ok' as const, 'ok' as const, 'retry' as const, 'fail' as const) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const) }), weight: 1 },
  // Rare, so that most runs get far before it.
  { arbitrary: fc.record({ kind: fc.constant('close' as const) }), weight: 1 },
);

describe('JobDelivery: puts at once, confirmed in order', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never more than PUTS_PER_JOB pending; acks only past ended objects, rising; every event counted once', async () => {
    const generator = new EdgeGenerator({ seed: 11, zones: 10 });
    const writer = new BatchWriter(generator.codec);
    const reader = new BatchReader(generator.codec);
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60, size: 'max' }), async (steps) => {
        const ledger = Ledger.create({ maxJobs: 4 });
        const slot = ledger.slot('j1');
        type Pending = { object: UploadObject; resolve: () => void; reject: (e: unknown) => void };
        const pending: Pending[] = [];
        /** Objects (by seq) whose put ended for good, and their line ranges. */
        const ended = new Set<number>();
        const ranges = new Map<number, { first: number; last: number; records: number }>();
        let failedRecords = 0;
        let maxPending = 0;
        const acks: number[] = [];
        const early: string[] = [];
        /** Each batch's last line (lines are numbered across the job, no filter: one per event). */
        const lastLineOf = new Map<number, number>();
        const delivery = new JobDelivery(
          { id: 'j1', dataset: 'http_requests', zones: [1], output_options: { field_names: ['RayID'] }, compression: 'none', max_upload_interval_seconds: 300, destination: { type: 'stdout' } },
          slot,
          {
            destination: {
              put: (object) =>
                new Promise<void>((resolve, reject) => {
                  ranges.set(object.seq, { first: object.firstLedgerId, last: object.lastLedgerId, records: object.records });
                  pending.push({ object, resolve, reject });
                  maxPending = Math.max(maxPending, pending.length);
                }),
              close: async () => {},
            },
            ledger,
            ack: (_slot, offset) => {
              // Every object holding a line of this batch or of one before it has ended.
              const last = lastLineOf.get(offset)!;
              // (Noted, not thrown: a throw here would land in the delivery's put, not in the test.)
              for (const [seq, range] of ranges) if (range.first <= last && !ended.has(seq)) early.push(`ack ${offset} before object ${seq} ended`);
              acks.push(offset);
            },
            onError: () => {},
            retryDelayMs: RETRY_MS,
            structures: generator.codec.spec,
          },
        );
        let offset = 0;
        let lines = 0;
        let events = 0;
        let closed = false;
        const end = (p: Pending, outcome: 'ok' | 'retry' | 'fail'): void => {
          pending.splice(pending.indexOf(p), 1);
          if (outcome === 'ok') {
            ended.add(p.object.seq);
            p.resolve();
          } else if (outcome === 'fail') {
            ended.add(p.object.seq);
            failedRecords += p.object.records;
            p.reject(new LogpushError('ERR_DESTINATION_REJECTED', 'refused for good', { retryable: false }));
          } else p.reject(new Error('try again'));
        };
        for (const s of steps) {
          if (closed && s.kind !== 'end' && s.kind !== 'wait') continue;
          if (s.kind === 'wait') vi.advanceTimersByTime(RETRY_MS);
          if (s.kind === 'close') {
            // A stop: puts in flight may still end; nothing not put may be acked.
            closed = true;
            void delivery.close();
          } else if (s.kind === 'wait') {
            // The pause before retries passed (above).
          } else if (s.kind === 'add') {
            writer.begin('http_requests');
            generator.fillBatch(writer, 'http_requests', s.events, 1_731_600_000_000_000_000, 1_000_000);
            const bytes = writer.finish();
            reader.reset(bytes);
            ledger.ingest(slot, s.events);
            lines += s.events;
            events += s.events;
            lastLineOf.set(++offset, lines - 1);
            delivery.add(offset, bytes.length, reader, 0);
          } else if (s.kind === 'seal') delivery.flush();
          else if (pending.length > 0) end(pending[s.which % pending.length]!, s.outcome);
          await settle();
        }
        // The rest: seal what is open, and let every put succeed.
        if (!closed) delivery.flush();
        await settle();
        while (pending.length > 0 || vi.getTimerCount() > 0) {
          if (pending.length > 0) end(pending[0]!, 'ok');
          vi.advanceTimersByTime(RETRY_MS);
          await settle();
        }
        expect(early).toEqual([]);
        expect(maxPending).toBeLessThanOrEqual(PUTS_PER_JOB);
        for (let i = 1; i < acks.length; i++) expect(acks[i]!).toBeGreaterThan(acks[i - 1]!);
        const entry = ledger.entry('j1')!;
        if (closed) {
          // Closed: what was not acked is sent again by Buftee; nothing counted past what ended.
          expect(entry.delivered + entry.dropped.destination_failed).toBeLessThanOrEqual(events);
          return;
        }
        if (offset > 0) expect(acks.at(-1)).toBe(offset);
        expect(delivery.heldBytes).toBe(0);
        expect(delivery.pendingBatches).toBe(0);
        expect(entry.ingested).toBe(events);
        expect(entry.delivered).toBe(events - failedRecords);
        expect(entry.dropped.destination_failed).toBe(failedRecords);
        expect(entry.inFlight).toBe(0);
      }),
      {
        numRuns: 1000,
        // A stop while the first object waits to be tried again and the second is being put: the
        // second's put ends after the stop, and must not ack the first's batch (it did, once).
        examples: [[[{ kind: 'add', events: 3 }, { kind: 'seal' }, { kind: 'add', events: 3 }, { kind: 'seal' }, { kind: 'end', which: 0, outcome: 'retry' }, { kind: 'close' }, { kind: 'end', which: 0, outcome: 'ok' }]]],
      },
    );
  }, 120_000);
});
