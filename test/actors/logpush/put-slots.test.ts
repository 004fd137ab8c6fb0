/** PutSlots: never more than `size` puts at once, granted first come first served, none forgotten. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PutSlots } from '../../../src/actors/logpush/put-slots.js';

describe('PutSlots', () => {
  it('holds at most size slots, grants waiters in order, and grants every one (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }), async (size, script) => {
        const slots = new PutSlots(size);
        const held: (() => void)[] = [];
        const granted: number[] = [];
        let asked = 0;
        let peak = 0;
        for (const acquire of script) {
          if (acquire || held.length === 0) {
            const n = asked++;
            void slots.acquire().then((release) => {
              granted.push(n);
              held.push(release);
              peak = Math.max(peak, slots.busy);
            });
          } else {
            const release = held.shift()!;
            release();
            release(); // twice is once
          }
          await Promise.resolve();
          await Promise.resolve();
          expect(slots.busy).toBeLessThanOrEqual(size);
        }
        // Everyone still waiting gets a slot once the holders let go.
        while (granted.length < asked) {
          held.shift()?.();
          await Promise.resolve();
          await Promise.resolve();
        }
        expect(granted).toEqual(Array.from({ length: asked }, (_, i) => i));
        expect(peak).toBeLessThanOrEqual(size);
        for (const release of held.splice(0)) release();
        expect(slots.busy).toBe(0);
        expect(slots.queued).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('serves urgent waiters before the others, each lane in order, never over size, none forgotten (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.constantFrom('normal', 'urgent', 'release'), { minLength: 1, maxLength: 150 }), async (size, script) => {
        const slots = new PutSlots(size);
        const held: (() => void)[] = [];
        const granted: { n: number; urgent: boolean }[] = [];
        // What a grant must be: the oldest urgent waiter if any, else the oldest normal one.
        const waiting = { urgent: [] as number[], normal: [] as number[] };
        let asked = 0;
        const tick = async (): Promise<void> => {
          await Promise.resolve();
          await Promise.resolve();
        };
        for (const step of script) {
          if (step === 'release' && held.length > 0) {
            const before = granted.length;
            const expected = waiting.urgent.length > 0 ? waiting.urgent.shift() : waiting.normal.shift();
            held.shift()!();
            await tick();
            if (expected !== undefined) expect(granted.slice(before).map((g) => g.n)).toEqual([expected]);
          } else if (step !== 'release') {
            const n = asked++;
            const urgent = step === 'urgent';
            const free = slots.busy < size;
            if (!free) waiting[urgent ? 'urgent' : 'normal'].push(n);
            void slots.acquire(urgent).then((release) => {
              granted.push({ n, urgent });
              held.push(release);
            });
            await tick();
          }
          expect(slots.busy).toBeLessThanOrEqual(size);
          expect(slots.queued).toBe(waiting.urgent.length + waiting.normal.length);
        }
        while (granted.length < asked) {
          held.shift()?.();
          await tick();
        }
        for (const release of held.splice(0)) release();
        expect(slots.busy).toBe(0);
        expect(slots.queued).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new PutSlots(0)).toThrow(/positive integer/);
    expect(() => new PutSlots(1.5)).toThrow(/positive integer/);
  });
});
