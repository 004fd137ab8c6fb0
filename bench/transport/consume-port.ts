/**
 * The postMessage consumer: one record per message, from a copied Uint8Array or a transferred
 * ArrayBuffer. Every ACK_EVERY records it publishes its count, which is what bounds the producer's
 * window (see main-producers.ts).
 */

import { parentPort, type MessagePort } from 'node:worker_threads';
import { Doorbell } from '../../src/native/index.js';
import type { ConsumerMeter } from './consumer-meter.js';
import { ACK_EVERY, ACKED_INDEX, ACK_SEQ_INDEX, ACK_SLEEPING_INDEX, CMD_STOP, messageName } from './protocol.js';
import type { RecordSink } from './record-sink.js';

export function consumePort(port: MessagePort, transfer: boolean, control: Int32Array, sink: RecordSink, meter: ConsumerMeter): Promise<void> {
  const ackBell = new Doorbell(control, ACK_SLEEPING_INDEX, ACK_SEQ_INDEX);
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      port.close();
      resolve();
    };
    port.on('message', (data: Uint8Array | ArrayBuffer) => {
      if (done) return;
      const view = transfer ? new Uint8Array(data as ArrayBuffer) : (data as Uint8Array);
      sink.accept(view, 0);
      meter.add(1);
      if (meter.count % ACK_EVERY === 0) {
        // Publishes the consumed count to the producer waiting on its window.
        Atomics.store(control, ACKED_INDEX, meter.count);
        ackBell.ring();
      }
      if (meter.stopped()) finish();
    });
    // STOP comes on the control port too: a consumer with nothing left to read gets no data message.
    parentPort!.on('message', (message: { code: number }) => {
      switch (message.code) {
        case CMD_STOP:
          if (meter.stopped()) finish();
          else reject(new Error('stop command arrived before main published the STOP phase'));
          break;
        default:
          reject(new Error(`port consumer got an unexpected ${messageName(message.code)} message`));
      }
    });
  });
}
