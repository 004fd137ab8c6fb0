/**
 * Marks: a crash in the middle of a read leaves records the actor handled to the end unreleased;
 * its successor reads them again and skips them (one atomic load each), and handles again only
 * the record the crash interrupted.
 */
import { describe, expect, it } from 'vitest';
import { createSupervisor } from '../../src/runtime/create-supervisor.js';
import type { RestartEvent } from '../../src/runtime/supervisor.js';
import { CMD_CRASH, EMPTY } from './fixtures/commands.js';
import { CMD_SLOW } from './fixtures/marking-sink.actor.js';

const SINK = new URL('./fixtures/marking-sink.actor.ts', import.meta.url);
const PER_BATCH = 100;

function seqBatch(from: number): Uint8Array {
  const seqs = new Uint32Array(PER_BATCH);
  for (let i = 0; i < PER_BATCH; i++) seqs[i] = from + i;
  return new Uint8Array(seqs.buffer);
}

describe('marks: effectively-once handling across a crash', () => {
  it('a crash at the 11th record of a read: the 10 handled before it are skipped, none repeated, none lost', async () => {
    const seen = new SharedArrayBuffer(1024);
    const counters = new SharedArrayBuffer(8);
    const sup = createSupervisor(
      {
        id: 'root',
        type: 'supervisor',
        intensity: 5,
        backoff: { minMs: 1, maxMs: 5, jitter: 0 },
        children: [{ id: 'sink', type: 'worker', module: SINK, args: { seen, counters } }],
      },
      { onRootFailure: 'emit', log: { level: 'silent' } },
    );
    const restarts: RestartEvent[] = [];
    sup.on('restart', (e) => restarts.push(e));
    await sup.start();
    try {
      const ref = sup.ref('sink');
      // The sink is busy for 200 ms: everything below lands in its mailbox before its next read.
      await ref.send(EMPTY, CMD_SLOW);
      await new Promise((r) => setTimeout(r, 20));
      for (let b = 0; b < 10; b++) await ref.send(seqBatch(b * PER_BATCH));
      await ref.send(EMPTY, CMD_CRASH);
      for (let b = 10; b < 20; b++) await ref.send(seqBatch(b * PER_BATCH));
      const batches = new Int32Array(counters);
      const deadline = Date.now() + 20_000;
      while (Atomics.load(batches, 1) < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(restarts).toHaveLength(1);
      expect(restarts[0]).toMatchObject({ child: 'sink', redelivered: 1 });
      expect(Atomics.load(batches, 1)).toBe(20);
      // Without marks the successor would handle the first 10 batches again: 1,000 repeats.
      expect(Atomics.load(batches, 0)).toBe(0);
      const bits = new Int32Array(seen);
      let n = 0;
      for (let i = 0; i < bits.length; i++) for (let v = bits[i]!; v !== 0; v &= v - 1) n++;
      expect(n).toBe(20 * PER_BATCH);
      const [stats] = await sup.stats();
      expect(stats?.skippedRedelivered).toBe(10);
    } finally {
      await sup.stop();
    }
  });
});
