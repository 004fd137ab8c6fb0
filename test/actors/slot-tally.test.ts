/**
 * SlotTally: what Logfwdr and Logreceiver count per job within a batch, flushed to the ledger in
 * one add per touched slot. Over random sequences of adds and drains, each drain hands over exactly
 * the counts since the last one, each touched slot once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlotTally } from '../../src/actors/stage-config.js';

describe('SlotTally', () => {
  it('drains exactly what was added since the last drain, each slot once (property)', () => {
    const op = fc.oneof(
      { weight: 8, arbitrary: fc.record({ slot: fc.nat({ max: 63 }), n: fc.integer({ min: 1, max: 5 }) }) },
      { weight: 1, arbitrary: fc.constant('drain' as const) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const tally = new SlotTally(64);
        let expected = new Map<number, number>();
        const check = (): void => {
          const got = new Map<number, number>();
          tally.drain((slot, n) => {
            expect(got.has(slot)).toBe(false);
            got.set(slot, n);
          });
          expect(got).toEqual(expected);
          expected = new Map();
        };
        for (const o of ops) {
          if (o === 'drain') check();
          else {
            tally.add(o.slot, o.n);
            expected.set(o.slot, (expected.get(o.slot) ?? 0) + o.n);
          }
        }
        check();
        // Drained: nothing left.
        check();
      }),
      { numRuns: 300 },
    );
  });
});
