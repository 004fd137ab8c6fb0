/**
 * Main-thread producers of the transports that are not Seatbelt rings: postMessage with a copy,
 * postMessage transferring a fresh ArrayBuffer, and ringbuf.js. Each writes the same stamped
 * payload as produce-ring.ts and checks the clock every PRODUCE_BATCH records.
 */

import type { MessagePort } from 'node:worker_threads';
import { RingBuffer as ByteRing } from 'ringbuf.js';
import { Doorbell } from '../../src/native/index.js';
import { ACK_EVERY, ACKED_INDEX, ACK_SEQ_INDEX, ACK_SLEEPING_INDEX } from './protocol.js';
import { makePayload, stamp } from './payload.js';
import { PRODUCE_BATCH } from './produce-ring.js';
import { WAIT_SLICE_MS, type StallGuard } from './stall-guard.js';

/**
 * Backpressure for postMessage: at most this many records in flight (posted, not yet acked), and
 * at most 64 MiB of them. postMessage itself never refuses, so without a window the queue grows
 * until the heap runs out. The consumer acks through a shared Int32 counter every ACK_EVERY (256)
 * records instead of a message, so the ack costs the consumer an Atomics.store, not a second
 * postMessage that would be charged to the transport under test; the producer sleeps on a doorbell
 * only when the window is full.
 */
export const WINDOW_RECORDS = 1024;
export const WINDOW_BYTES = 64 * 1024 * 1024;

export function windowFor(bytes: number): number {
  const window = Math.min(WINDOW_RECORDS, Math.floor(WINDOW_BYTES / bytes));
  // A window that is not a whole number of acks could wait for an ack that never comes.
  return Math.max(ACK_EVERY, window - (window % ACK_EVERY));
}

export async function producePort(
  port: MessagePort,
  transfer: boolean,
  bytes: number,
  control: Int32Array,
  running: () => boolean,
  guard: StallGuard,
): Promise<number> {
  const payload = makePayload(bytes);
  const words = new Int32Array(payload.buffer);
  const window = windowFor(bytes);
  const ackBell = new Doorbell(control, ACK_SLEEPING_INDEX, ACK_SEQ_INDEX);
  let sent = 0;
  while (running()) {
    for (let i = 0; i < PRODUCE_BATCH; i++) {
      // Consumes the consumer's count of records taken off the queue.
      if (sent - Atomics.load(control, ACKED_INDEX) >= window) await waitForWindow(control, ackBell, sent, window, guard);
      stamp(words, sent);
      if (transfer) {
        const fresh = new ArrayBuffer(bytes);
        new Uint8Array(fresh).set(payload);
        port.postMessage(fresh, [fresh]);
      } else {
        port.postMessage(payload);
      }
      sent++;
    }
  }
  return sent;
}

async function waitForWindow(control: Int32Array, ackBell: Doorbell, sent: number, window: number, guard: StallGuard): Promise<void> {
  const started = performance.now();
  for (;;) {
    const seq = ackBell.prepare();
    // Consumes the count again after announcing the sleep, so an ack in between is not missed.
    if (sent - Atomics.load(control, ACKED_INDEX) < window) {
      ackBell.cancel();
      return;
    }
    await ackBell.wait(seq, WAIT_SLICE_MS);
    guard.check(performance.now() - started, 'postMessage acks');
  }
}

/** ringbuf.js: whole records only (push only when they fit), polling when full as its API intends. */
export async function produceRingbuf(storage: SharedArrayBuffer, bytes: number, running: () => boolean, guard: StallGuard): Promise<number> {
  const ring = new ByteRing(storage, Uint8Array);
  const payload = makePayload(bytes);
  const words = new Int32Array(payload.buffer);
  let seq = 0;
  while (running()) {
    for (let i = 0; i < PRODUCE_BATCH; i++) {
      if (ring.availableWrite() < bytes) await waitForRoom(ring, bytes, guard);
      stamp(words, seq);
      const pushed = ring.push(payload);
      if (pushed !== bytes) throw new Error(`ringbuf.js pushed ${pushed} bytes of a ${bytes}-byte record`);
      seq++;
    }
  }
  return seq;
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Spins 50 µs like the default idle strategy, then lets the event loop run, and again. */
async function waitForRoom(ring: ByteRing, bytes: number, guard: StallGuard): Promise<void> {
  const started = performance.now();
  for (;;) {
    const deadline = performance.now() + 0.05;
    while (performance.now() < deadline) {
      for (let i = 0; i < 64; i++) if (ring.availableWrite() >= bytes) return;
    }
    await immediate();
    guard.check(performance.now() - started, 'room in the ringbuf.js ring');
  }
}
