/**
 * Shared gauges: a few i32 values one thread writes and any thread reads without a message
 * (Buftee's pressure, Logpush's HELLO nonce).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SharedGauges, GAUGES_MAGIC, MAX_GAUGES } from '../../src/native/shared-gauges.js';
import { firstMessage, startWorker } from '../helpers/workers.js';

const WRITER = new URL('./fixtures/gauge-writer.worker.ts', import.meta.url);

describe('SharedGauges', () => {
  it('stores, loads and adds; another view over the same memory sees every value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), { maxLength: 50 }), (count, writes) => {
        const gauges = SharedGauges.create(count);
        const other = SharedGauges.attach(gauges.buffer);
        const model = new Array<number>(count).fill(0);
        for (const [g, v] of writes) {
          gauges.store(g % count, v);
          model[g % count] = v;
        }
        for (let g = 0; g < count; g++) expect(other.load(g)).toBe(model[g]);
        expect(other.add(0, 1)).toBe(model[0]);
        expect(gauges.load(0)).toBe((model[0]! + 1) | 0);
      }),
    );
  });

  it('waitWhile: not-equal at once when the gauge moved, timed-out when nothing came, ok when notified', async () => {
    const gauges = SharedGauges.create(2);
    expect(await gauges.waitWhile(1, 5, 10_000)).toBe('not-equal');
    expect(await gauges.waitWhile(1, 0, 5)).toBe('timed-out');
    const waiting = gauges.waitWhile(1, 0, 60_000);
    gauges.store(1, 1);
    gauges.notify(1);
    expect(await waiting).toBe('ok');
    expect(() => gauges.notify(2)).toThrow(RangeError);
  });

  it('refuses buffers that are not gauges, counts out of range, and gauges out of range', () => {
    expect(() => SharedGauges.create(0)).toThrow(/from 1 to 1024, got 0/);
    expect(() => SharedGauges.create(MAX_GAUGES + 1)).toThrow(RangeError);
    expect(() => SharedGauges.attach(new SharedArrayBuffer(128))).toThrow(expect.objectContaining({ code: 'ERR_RING_FOREIGN_BUFFER' }));
    expect(() => SharedGauges.attach(new ArrayBuffer(128) as unknown as SharedArrayBuffer)).toThrow(expect.objectContaining({ code: 'ERR_RING_FOREIGN_BUFFER' }));
    const lying = new SharedArrayBuffer(64 + 8);
    new Int32Array(lying).set([GAUGES_MAGIC, 5]);
    expect(() => SharedGauges.attach(lying)).toThrow(/not a shared gauges buffer/);
    const gauges = SharedGauges.create(3);
    expect(() => gauges.load(3)).toThrow(/gauge 3 is out of range 0..2/);
    expect(() => gauges.store(-1, 0)).toThrow(RangeError);
    expect(() => gauges.load(1.5)).toThrow(RangeError);
  });

  it('across threads: a reader that sees sequence k sees every value of snapshot k or later, never older', async () => {
    const gauges = SharedGauges.create(8);
    const count = 2_000_000;
    const worker = startWorker(WRITER, { workerData: { sab: gauges.buffer, count } });
    const done = firstMessage<{ done: number }>(worker, 120_000);
    let finished = false;
    void done.then(() => (finished = true));
    let reads = 0;
    let last = 0;
    while (!finished || last < count) {
      const seq = gauges.load(0);
      expect(seq).toBeGreaterThanOrEqual(last);
      for (let g = 1; g < gauges.count; g++) {
        const v = gauges.load(g);
        if (v < seq) throw new Error(`gauge ${g} = ${v} is older than sequence ${seq} read before it`);
      }
      last = seq;
      reads++;
      if (reads % 10_000 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(await done).toEqual({ done: count });
    expect(gauges.load(0)).toBe(count);
    await worker.terminate();
  });
});
