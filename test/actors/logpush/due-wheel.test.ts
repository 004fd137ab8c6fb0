import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DueWheel } from '../../../src/actors/logpush/due-wheel.js';

describe('DueWheel', () => {
  it('hands out an item once its tick has passed, not before, and once only', () => {
    const wheel = new DueWheel<string>(50);
    wheel.file('a', 120); // tick 3: due from 150
    wheel.file('b', 100); // tick 2: due from 100
    const seen: string[] = [];
    wheel.takeDue(99, (x) => seen.push(x));
    expect(seen).toEqual([]);
    wheel.takeDue(100, (x) => seen.push(x));
    expect(seen).toEqual(['b']);
    wheel.takeDue(149, (x) => seen.push(x));
    expect(seen).toEqual(['b']);
    wheel.takeDue(10_000, (x) => seen.push(x));
    expect(seen).toEqual(['b', 'a']);
    wheel.takeDue(20_000, (x) => seen.push(x));
    expect(seen).toEqual(['b', 'a']);
    expect(wheel.size).toBe(0);
  });

  it('moves an item filed again, and forgets one filed without a deadline', () => {
    const wheel = new DueWheel<string>(10);
    wheel.file('a', 1000);
    wheel.file('a', 20); // due sooner (an older event came)
    wheel.file('b', 30);
    wheel.file('b', undefined); // sealed
    const seen: string[] = [];
    wheel.takeDue(25, (x) => seen.push(x));
    expect(seen).toEqual(['a']);
    wheel.takeDue(5000, (x) => seen.push(x));
    expect(seen).toEqual(['a']);
  });

  it('an item the visitor files at a past tick waits for the next call (no endless loop)', () => {
    const wheel = new DueWheel<string>(10);
    wheel.file('a', 10);
    let visits = 0;
    wheel.takeDue(100, (x) => {
      visits++;
      wheel.file(x, 50);
    });
    expect(visits).toBe(1);
    wheel.takeDue(100, () => visits++);
    expect(visits).toBe(2);
  });

  it('matches a plain map of deadlines under random files and takes (fast-check)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('file' as const), item: fc.integer({ min: 0, max: 20 }), deadline: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }) }),
      fc.record({ kind: fc.constant('take' as const), advance: fc.integer({ min: 0, max: 700 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.array(op, { maxLength: 200 }), (tickMs, ops) => {
        const wheel = new DueWheel<number>(tickMs);
        const model = new Map<number, number>();
        let now = 0;
        for (const o of ops) {
          if (o.kind === 'file') {
            wheel.file(o.item, o.deadline);
            if (o.deadline === undefined) model.delete(o.item);
            else model.set(o.item, o.deadline);
          } else {
            now += o.advance;
            const got: number[] = [];
            wheel.takeDue(now, (x) => got.push(x));
            const last = Math.floor(now / tickMs);
            const want = [...model].filter(([, d]) => Math.ceil(d / tickMs) <= last);
            for (const [item] of want) model.delete(item);
            // Same items; in tick order.
            expect([...got].sort((a, b) => a - b)).toEqual(want.map(([i]) => i).sort((a, b) => a - b));
            const ticks = got.map((i) => Math.ceil(want.find(([w]) => w === i)![1] / tickMs));
            expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
            expect(wheel.size).toBe(model.size);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
