/**
 * Nothing in a ring is lost to a crash: a source sends 1,000,000 sequence-numbered events to a
 * sink that is killed at 5 random points; the sink's successors together see every event. A
 * repeat is allowed only for the batch a kill interrupted (batches the sink handled to the end
 * but had not released are skipped by its successor), and the supervisor counts those.
 */
import { describe, expect, it } from 'vitest';
import { createSupervisor } from '../../src/runtime/create-supervisor.js';
import type { RestartEvent } from '../../src/runtime/supervisor.js';
import type { KillAt } from '../../src/runtime/actor-process.js';

const SOURCE = new URL('./fixtures/seq-source.actor.ts', import.meta.url);
const SINK = new URL('./fixtures/seq-sink.actor.ts', import.meta.url);
const TOTAL = 1_000_000;
const PER_BATCH = 256;

function countSeen(bits: Int32Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) {
    let v = Atomics.load(bits, i);
    while (v !== 0) {
      v &= v - 1;
      n++;
    }
  }
  return n;
}

async function killSinkUnderLoad(total: number, killAt: KillAt, slowMicros: number): Promise<{ seen: number; repeats: number; restarts: RestartEvent[] }> {
  const seen = new SharedArrayBuffer(Math.ceil(total / 32) * 4);
  const counters = new SharedArrayBuffer(8);
  const sup = createSupervisor(
    {
      id: 'root',
      type: 'supervisor',
      intensity: 10,
      backoff: { minMs: 1, maxMs: 10, jitter: 0 },
      children: [
        { id: 'sink', type: 'worker', module: SINK, args: { seen, counters, slowMicros }, mailboxBytes: 64 * 1024 },
        { id: 'source', type: 'worker', module: SOURCE, args: { target: 'sink', count: total, perBatch: PER_BATCH }, sendsTo: ['sink'] },
      ],
    },
    { onRootFailure: 'emit', log: { level: 'silent' } },
  );
  const restarts: RestartEvent[] = [];
  sup.on('restart', (e) => restarts.push(e));
  await sup.start();
  const bits = new Int32Array(seen);
  const batches = new Int32Array(counters);
  const totalBatches = Math.ceil(total / PER_BATCH);
  // Kill points: 5 random batch counts spread over the run.
  const points = Array.from({ length: 5 }, (_, i) => Math.floor(((i + Math.random()) / 6) * totalBatches)).sort((a, b) => a - b);
  for (const point of points) {
    while (Atomics.load(batches, 1) < point) await new Promise((r) => setTimeout(r, 2));
    const before = restarts.length;
    await sup.kill('sink', killAt);
    while (restarts.length === before) await new Promise((r) => setTimeout(r, 5));
  }
  const deadline = Date.now() + 120_000;
  while (countSeen(bits) < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await sup.stop();
  return { seen: countSeen(bits), repeats: Atomics.load(batches, 0), restarts };
}

describe('no loss across consumer crashes', () => {
  it('1,000,000 events, the consumer terminated at 5 random points wherever its code is: every event seen', async () => {
    const { seen, repeats, restarts } = await killSinkUnderLoad(TOTAL, 'now', 20);
    expect(restarts.filter((r) => r.child === 'sink').length).toBe(5);
    expect(seen).toBe(TOTAL);
    // Repeats are exactly the events of batches read and not released when the sink was killed.
    const redeliveredBatches = restarts.reduce((a, r) => a + r.redelivered, 0);
    expect(repeats).toBeLessThanOrEqual(redeliveredBatches * PER_BATCH);
    // Marks: of a read of up to 64 records, only the one a kill interrupted is handled again;
    // those a predecessor handled to the end are skipped.
    for (const r of restarts) expect(r.redelivered).toBeLessThanOrEqual(1);
    expect(repeats).toBeLessThanOrEqual(restarts.length * PER_BATCH);
  });

  it('killed at its next turn (the default) while busy in every record: every event seen exactly once', async () => {
    // 300 µs of work after each record's effect: a kill wherever the code is would land inside a
    // record almost every time and repeat it; at the next turn it lands between records.
    const total = 200_000;
    const { seen, repeats, restarts } = await killSinkUnderLoad(total, 'turn', 300);
    expect(restarts.filter((r) => r.child === 'sink').length).toBe(5);
    expect(seen).toBe(total);
    expect(repeats).toBe(0);
    for (const r of restarts) expect(r.redelivered).toBe(0);
  });
});

describe('backpressure', () => {
  it('a slow consumer slows a fast producer, and the producer heap stays bounded', async () => {
    const count = 200_000;
    const seen = new SharedArrayBuffer(Math.ceil(count / 32) * 4);
    const counters = new SharedArrayBuffer(8);
    const heap = new SharedArrayBuffer(4 * 256);
    const sup = createSupervisor(
      {
        id: 'root',
        type: 'supervisor',
        children: [
          // 400 us per batch of 64: the sink takes at most ~160,000 events/s.
          { id: 'sink', type: 'worker', module: SINK, args: { seen, counters, slowMicros: 400 }, mailboxBytes: 16 * 1024 },
          { id: 'source', type: 'worker', module: SOURCE, args: { target: 'sink', count, perBatch: 64, heap }, sendsTo: ['sink'] },
        ],
      },
      { onRootFailure: 'emit', log: { level: 'silent' } },
    );
    await sup.start();
    const bits = new Int32Array(seen);
    const started = performance.now();
    while (countSeen(bits) < count) await new Promise((r) => setTimeout(r, 20));
    const elapsed = performance.now() - started;
    await sup.stop();
    // The source could produce far faster; finishing no sooner than the sink's pace shows it waited.
    expect(elapsed).toBeGreaterThan(((count / 64) * 400) / 1000 * 0.9);
    const samples = Array.from(new Int32Array(heap).slice(1, 1 + new Int32Array(heap)[0]!));
    expect(samples.length).toBeGreaterThan(5);
    const growthKiB = Math.max(...samples.slice(2)) - Math.min(...samples.slice(2));
    expect(growthKiB).toBeLessThan(16 * 1024);
  });
});

describe('graceful stop', () => {
  it('drains senders before receivers: every event sent before stop() is handled', async () => {
    const count = 50_000_000;
    const seen = new SharedArrayBuffer(Math.ceil(count / 32) * 4);
    const counters = new SharedArrayBuffer(8);
    const sent = new SharedArrayBuffer(4);
    const sup = createSupervisor(
      {
        id: 'root',
        type: 'supervisor',
        children: [
          { id: 'sink', type: 'worker', module: SINK, args: { seen, counters, slowMicros: 50 }, mailboxBytes: 256 * 1024 },
          { id: 'source', type: 'worker', module: SOURCE, args: { target: 'sink', count, perBatch: 256, sent }, sendsTo: ['sink'] },
        ],
      },
      { onRootFailure: 'emit', log: { level: 'silent' } },
    );
    await sup.start();
    const sentCount = new Int32Array(sent);
    while (Atomics.load(sentCount, 0) < 200_000) await new Promise((r) => setTimeout(r, 5));
    await sup.stop();
    const total = Atomics.load(sentCount, 0);
    expect(total).toBeGreaterThanOrEqual(200_000);
    expect(total).toBeLessThan(count);
    expect(countSeen(new Int32Array(seen))).toBe(total);
  });
});
