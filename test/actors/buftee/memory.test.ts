/**
 * Heap per buffer, measured (not timed): 100,000 buffers, heapUsed after forced collections. The
 * figures go to the test's annotations; the bounds are loose, to catch a regression of 2x or so.
 */
import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Buftee } from '../../../src/actors/buftee/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const BUFFERS = 100_000;
const JOB_IDS = Array.from({ length: BUFFERS }, (_, i) => `job-${i}`);
const BATCH = new Uint8Array(64);

function big(): Buftee {
  // The default clock (performance.now, fractional milliseconds), as in production.
  return new Buftee({
    limits: { maxBuffers: 1_000_000, maxBuffersPerPrefix: 1_000_000, maxNewBuffersPerSecond: 1_000_000, maxTotalBytes: 2 ** 40 },
  });
}

describe('Buftee memory', () => {
  it('an idle buffer (a consumer subscribed, everything acked) costs about 300 bytes', async ({ annotate }) => {
    const buftee = big();
    const start = heapUsed();
    for (const job of JOB_IDS) buftee.subscribe(job, 'logpush');
    const subscribed = heapUsed();
    for (const job of JOB_IDS) {
      buftee.append('http_requests', job, BATCH, 1);
      const { batches, incarnation } = buftee.read(job, 'logpush', 1);
      buftee.ack(job, 'logpush', batches[0]!.offset, incarnation);
    }
    const perBuffer = (heapUsed() - subscribed) / BUFFERS;
    const perSubscription = (subscribed - start) / BUFFERS;
    expect(buftee.stats()).toMatchObject({ buffers: BUFFERS, batches: 0, evictable: BUFFERS });
    await annotate(
      `idle buffer: ${Math.round(perBuffer)} bytes of heap each (1,000,000 would take ~${Math.round(perBuffer)} MB); ` +
        `its job's subscription: ${Math.round(perSubscription)} bytes more`,
    );
    expect(perBuffer).toBeLessThan(600);
    // Jobs subscribed alike share one consumer set: a job's subscription is an entry of a Map
    // (a Map of its own each cost ~280-400 bytes: bench/results/scale.json before the sharing).
    expect(perSubscription).toBeLessThan(150);
  });

  it('a buffer nobody consumes, holding one 64-byte batch', async ({ annotate }) => {
    const buftee = big();
    const before = heapUsed();
    for (const job of JOB_IDS) buftee.append('http_requests', job, BATCH, 1);
    const perBuffer = (heapUsed() - before) / BUFFERS;
    await annotate(`unconsumed buffer with one 64-byte batch: ${Math.round(perBuffer)} bytes of heap each`);
    expect(buftee.stats().batches).toBe(BUFFERS);
    expect(perBuffer).toBeLessThan(1200);
  });
});
