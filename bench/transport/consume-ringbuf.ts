/**
 * The ringbuf.js consumer: fixed-size records popped straight into the sink's scratch (ringbuf.js
 * has no zero-copy read, so its pop is this transport's copy-out). ringbuf.js has no doorbell, so
 * an empty ring is polled with availableRead(): spin 50 µs like the default idle strategy, then
 * yield to the event loop and poll again.
 */

import { RingBuffer as ByteRing } from 'ringbuf.js';
import type { ConsumerMeter } from './consumer-meter.js';
import type { RecordSink } from './record-sink.js';

const SPIN_MS = 0.05;
/** Records popped between two phase checks (each pop releases its own space at once). */
const POP_BATCH = 256;
const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function consumeRingbuf(storage: SharedArrayBuffer, bytes: number, sink: RecordSink, meter: ConsumerMeter): Promise<void> {
  const ring = new ByteRing(storage, Uint8Array);
  const scratch = sink.scratch;
  for (;;) {
    let n = 0;
    while (n < POP_BATCH && ring.availableRead() >= bytes) {
      const got = ring.pop(scratch, bytes);
      if (got !== bytes) throw new Error(`ringbuf.js popped ${got} bytes of a ${bytes}-byte record`);
      sink.check(bytes, 0);
      n++;
    }
    if (n > 0) meter.add(n);
    if (meter.stopped()) return;
    if (n === 0 && !spin(ring, bytes)) await immediate();
  }
}

function spin(ring: ByteRing, bytes: number): boolean {
  const deadline = performance.now() + SPIN_MS;
  for (;;) {
    for (let i = 0; i < 64; i++) if (ring.availableRead() >= bytes) return true;
    if (performance.now() >= deadline) return false;
  }
}
