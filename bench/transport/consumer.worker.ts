/**
 * The consumer worker of the throughput cells: wires one transport to the shared consumer work
 * (RecordSink) and meter, says ready, consumes until main publishes STOP, then reports its count.
 */

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { FanInConsumer, RingConsumer } from '../../src/native/index.js';
import { ConsumerMeter } from './consumer-meter.js';
import { consumePort } from './consume-port.js';
import { consumeRing } from './consume-ring.js';
import { consumeRingbuf } from './consume-ringbuf.js';
import { MSG_READY, type ConsumerData, type ReadyMessage } from './protocol.js';
import { RecordSink } from './record-sink.js';

const data = workerData as ConsumerData;
const control = new Int32Array(data.control);
const sink = new RecordSink(data.bytes, data.producers, data.checksum);
const meter = new ConsumerMeter(control);

function firstRing(): SharedArrayBuffer {
  const ring = data.rings[0];
  if (ring === undefined) throw new Error(`${data.transport} consumer was given no ring`);
  return ring;
}

function dataPort(): MessagePort {
  if (data.port === null) throw new Error(`${data.transport} consumer was given no port`);
  return data.port;
}

async function consume(): Promise<void> {
  switch (data.transport) {
    case 'ring':
      return consumeRing(new RingConsumer(firstRing()), data.bytes, sink, meter);
    case 'fan-in':
      return consumeRing(new FanInConsumer(data.rings), data.bytes, sink, meter);
    case 'port-copy':
      return consumePort(dataPort(), false, control, sink, meter);
    case 'port-transfer':
      return consumePort(dataPort(), true, control, sink, meter);
    case 'ringbuf.js':
      return consumeRingbuf(firstRing(), data.bytes, sink, meter);
    default:
      throw new Error(`unknown consumer transport ${String(data.transport satisfies never)}`);
  }
}

const consuming = consume();
parentPort!.postMessage({ code: MSG_READY } satisfies ReadyMessage);
await consuming;
parentPort!.postMessage(meter.report(sink));
