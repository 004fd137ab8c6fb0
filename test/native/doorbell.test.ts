import { describe, expect, it } from 'vitest';
import { Doorbell } from '../../src/native/doorbell.js';
import { createRing } from '../../src/native/ring.js';
import { RingProducer } from '../../src/native/ring-producer.js';
import { firstMessage, startWorker } from '../helpers/workers.js';

const SLEEPER = new URL('./fixtures/sleeping-consumer.worker.ts', import.meta.url);

describe('doorbell', () => {
  it('rings only when a sleeper announced itself', () => {
    const bell = new Doorbell(new Int32Array(new SharedArrayBuffer(8)), 0, 1);
    expect(bell.ring()).toBe(false);
    bell.prepare();
    expect(bell.ring()).toBe(true);
    expect(bell.ring()).toBe(false); // one notify per announcement
  });

  it('returns at once when the sequence moved between prepare and wait (Node 20 sync not-equal)', async () => {
    const bell = new Doorbell(new Int32Array(new SharedArrayBuffer(8)), 0, 1);
    const seq = bell.prepare();
    bell.ring();
    const started = performance.now();
    expect(await bell.wait(seq, 5000)).toBe('changed');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('times out when nobody rings', async () => {
    const bell = new Doorbell(new Int32Array(new SharedArrayBuffer(8)), 0, 1);
    expect(await bell.wait(bell.prepare(), 20)).toBe('timed-out');
  });

  it('keeps a sleeping worker alive and wakes it when a producer publishes', async () => {
    const sab = createRing({ capacity: 4096 });
    const worker = startWorker(SLEEPER, { workerData: { sab } });
    // The worker reports when it is asleep; a worker whose pending waitAsync did not hold the
    // event loop would exit here, and firstMessage would reject with its exit code.
    expect(await firstMessage<string>(worker)).toBe('sleeping');
    await new Promise((r) => setTimeout(r, 300));
    const producer = new RingProducer(sab);
    const reply = firstMessage<{ reason: string; length: number }>(worker);
    expect(producer.tryWrite(3, new Uint8Array(40))).toBe(true);
    expect(await reply).toEqual({ reason: 'woken', length: 40 });
    await worker.terminate();
  });
});
