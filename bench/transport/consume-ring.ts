/**
 * The ring consumer loop: read a batch, release it, check the phase; when the ring is empty, idle
 * with the default BackoffIdleStrategy (spin 50 µs, yield twice, then sleep on the doorbell), as
 * the runtime's consumers will.
 */

import { BackoffIdleStrategy, type DataSource, type RecordHandler } from '../../src/native/index.js';
import type { ConsumerMeter } from './consumer-meter.js';
import { readBatch } from './protocol.js';
import type { RecordSink } from './record-sink.js';

export async function consumeRing(source: DataSource, recordBytes: number, sink: RecordSink, meter: ConsumerMeter): Promise<void> {
  const batch = readBatch(recordBytes);
  const idle = new BackoffIdleStrategy();
  // Producer p writes records of type p + 1.
  const handler: RecordHandler = (type, bytes, offset, length) => sink.accept(bytes.subarray(offset, offset + length), type - 1);
  for (;;) {
    const n = source.read(handler, batch);
    if (n > 0) {
      source.release();
      meter.add(n);
    }
    if (meter.stopped()) return;
    if (n === 0) await idle.idle(source);
  }
}
