/**
 * The Seatbelt ring producer loop, the same on main (one-to-one and many-to-one cells) and in the
 * producer workers of the fan-in cells: tryClaim, bytes.set(payload, offset), commit; only when
 * tryClaim finds the ring full does it `await producer.claim(...)`, which sleeps on the space
 * doorbell.
 */

import type { Producer } from '../../src/native/index.js';
import { makePayload, stamp } from './payload.js';
import { WAIT_SLICE_MS, type StallGuard } from './stall-guard.js';

/** Records written between two checks of the clock (performance.now() costs ~30 ns a call). */
export const PRODUCE_BATCH = 64;

/** Writes records until `running` says stop; returns how many were committed. */
export async function produceRing(producer: Producer, type: number, bytes: number, running: () => boolean, guard: StallGuard): Promise<number> {
  const payload = makePayload(bytes);
  const words = new Int32Array(payload.buffer);
  const ringBytes = producer.ring.bytes;
  let seq = 0;
  while (running()) {
    for (let i = 0; i < PRODUCE_BATCH; i++) {
      stamp(words, seq);
      let offset = producer.tryClaim(type, bytes);
      if (offset < 0) {
        offset = await claimWhenFull(producer, type, bytes, guard);
        if (offset < 0) return seq;
      }
      ringBytes.set(payload, offset);
      producer.commit();
      seq++;
    }
  }
  return seq;
}

/** The slow path: wait for room in slices, so a stop or a dead consumer is noticed. -1 on stop. */
async function claimWhenFull(producer: Producer, type: number, bytes: number, guard: StallGuard): Promise<number> {
  const started = performance.now();
  for (;;) {
    const offset = await producer.claim(type, bytes, WAIT_SLICE_MS);
    if (offset >= 0) return offset;
    if (guard.stopped()) return -1;
    guard.check(performance.now() - started, 'room in the ring');
  }
}
