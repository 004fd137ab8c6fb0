/**
 * JobDelivery puts up to PUTS_PER_JOB objects at once and confirms them in the order they were
 * sealed (fast-check): over random runs of batches, seals, and puts that end in any order (done,
 * failed for now and tried again, or failed for good), never more than PUTS_PER_JOB puts are
 * pending; an ack for a batch comes only once every object with a line of that batch or before it
 * has ended; acks rise; and at the end every batch is acked, every event counted once in the
 * ledger (delivered, or destination_failed for the objects failed for good), nothing held.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JobDelivery, PUTS_PER_JOB } from '../../../src/actors/logpush/job-delivery.js';
import { LogpushError } from '../../../src/actors/logpush/errors.js';
import type { UploadObject } from '../../../src/actors/logpush/upload-object.js';
import { Ledger } from '../../../src/actors/ledger.js';
import { BatchReader, BatchWriter } from '../../../src/runtime/codec.js';
import { EdgeGenerator } from '../../../src/actors/sources/edge-generator.js';

const settle = async (): Promise<void> => {
  // Retries are due after 0 ms: a timer turn, then the microtasks and immediates behind it.
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

type Step = { kind: 'add'; events: number } | { kind: 'seal' } | { kind: 'end'; which: number; outcome: 'ok' | 'retry' | 'fail' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), events: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('seal' as const) }),
  fc.record({ kind: fc.constant('end' as const), which: fc.nat(7), outcome: fc.constantFrom('ok' as const, 'ok' as const, 'retry' as const, 'fail' as const) }),
);

describe('JobDelivery: puts at once, confirmed in order', () => {
  it('never more than PUTS_PER_JOB pending; acks only past ended objects, rising; every event counted once', async () => {
    const generator = new EdgeGenerator({ seed: 11, zones: 10 });
    const writer = new BatchWriter(generator.codec);
    const reader = new BatchReader(generator.codec);
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
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
              for (const [seq, range] of ranges) if (range.first <= last) expect(ended.has(seq)).toBe(true);
              acks.push(offset);
            },
            onError: () => {},
            retryDelayMs: 0,
            structures: generator.codec.spec,
          },
        );
        let offset = 0;
        let lines = 0;
        let events = 0;
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
          if (s.kind === 'add') {
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
        delivery.flush();
        await settle();
        while (pending.length > 0) {
          end(pending[0]!, 'ok');
          await settle();
        }
        expect(maxPending).toBeLessThanOrEqual(PUTS_PER_JOB);
        for (let i = 1; i < acks.length; i++) expect(acks[i]!).toBeGreaterThan(acks[i - 1]!);
        if (offset > 0) expect(acks.at(-1)).toBe(offset);
        expect(delivery.heldBytes).toBe(0);
        expect(delivery.pendingBatches).toBe(0);
        const entry = ledger.entry('j1')!;
        expect(entry.ingested).toBe(events);
        expect(entry.delivered).toBe(events - failedRecords);
        expect(entry.dropped.destination_failed).toBe(failedRecords);
        expect(entry.inFlight).toBe(0);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
