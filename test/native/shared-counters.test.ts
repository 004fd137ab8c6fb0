/**
 * Shared counters: i64 counters any thread adds to, reads and takes (the ledger's table), and the
 * i32 words of their owner's header.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SharedCounters } from '../../src/native/shared-counters.js';
import { firstMessage, startWorker } from '../helpers/workers.js';

const ADDER = new URL('./fixtures/counter-adder.worker.ts', import.meta.url);

describe('SharedCounters', () => {
  it('adds (either sign), loads and takes like a model, and a second view sees the same counts', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), index: fc.nat({ max: 7 }), n: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }) }),
      fc.record({ kind: fc.constant('take' as const), index: fc.nat({ max: 7 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const counters = new SharedCounters(new SharedArrayBuffer(64));
        const other = new SharedCounters(counters.buffer);
        const model = new Array<number>(8).fill(0);
        for (const o of ops) {
          if (o.kind === 'add') {
            counters.add(o.index, o.n);
            model[o.index]! += o.n;
          } else {
            expect(other.take(o.index)).toBe(model[o.index]);
            model[o.index] = 0;
          }
        }
        for (let i = 0; i < 8; i++) {
          expect(other.load(i)).toBe(model[i]);
          // A counter that never went below zero reads the same without a BigInt.
          if (model[i]! >= 0) expect(other.loadGrowing(i)).toBe(model[i]);
        }
      }),
    );
  });

  it('reads and publishes the i32 words of a header over the same memory', () => {
    const counters = new SharedCounters(new SharedArrayBuffer(32));
    counters.setWord(0, 0x474c4253);
    counters.setWord(5, -7);
    expect(new Int32Array(counters.buffer)[0]).toBe(0x474c4253);
    expect(new SharedCounters(counters.buffer).word(5)).toBe(-7);
    // Word 2 and 3 are counter 1's halves.
    counters.add(1, 2 ** 32 + 5);
    expect([counters.word(2), counters.word(3)]).toEqual([5, 1]);
  });

  it('refuses memory that is not shared or not whole counters', () => {
    expect(() => new SharedCounters(new ArrayBuffer(64) as unknown as SharedArrayBuffer)).toThrow(/SharedArrayBuffer/);
    expect(() => new SharedCounters(new SharedArrayBuffer(12))).toThrow(/multiple of 8 bytes, got 12 bytes/);
  });

  it('across threads: no add is lost, a +k/-k pair leaves 0, and what is taken meanwhile plus what is left is every add', async () => {
    const counters = new SharedCounters(new SharedArrayBuffer(64));
    const adds = 200_000;
    const workers = [0, 1, 2].map(() => startWorker(ADDER, { workerData: { sab: counters.buffer, adds } }));
    const done = Promise.all(workers.map((w) => firstMessage<{ done: number }>(w, 120_000)));
    let finished = false;
    void done.then(() => (finished = true));
    let taken = 0;
    let takes = 0;
    while (!finished) {
      taken += counters.take(2);
      if (++takes % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    await done;
    expect(counters.load(0)).toBe(3 * adds);
    expect(counters.load(1)).toBe(0);
    expect(taken + counters.load(2)).toBe(3 * adds);
    await Promise.all(workers.map((w) => w.terminate()));
  });

  it('across threads: loadGrowing never sees a torn counter, while another thread carries into the high half', async () => {
    const counters = new SharedCounters(new SharedArrayBuffer(64));
    // Odd, just under 2^31: nearly every other add carries into the high half.
    const step = 0x7fff_ffff;
    const adds = 1_000_000;
    const worker = startWorker(ADDER, { workerData: { sab: counters.buffer, adds, step } });
    const done = firstMessage<{ done: number }>(worker, 120_000);
    let finished = false;
    void done.then(() => (finished = true));
    let last = 0;
    let reads = 0;
    while (!finished) {
      const v = counters.loadGrowing(3);
      // Every value the counter takes is a multiple of step: a high half and a low half of two
      // different moments almost never are.
      if (v % step !== 0 || v < last) throw new Error(`read ${v} after ${last}: not a value the counter had`);
      last = v;
      if (++reads % 10_000 === 0) await new Promise((r) => setImmediate(r));
    }
    await done;
    expect(counters.loadGrowing(3)).toBe(adds * step);
    expect(reads).toBeGreaterThan(0);
    await worker.terminate();
  });
});
