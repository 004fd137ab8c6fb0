/**
 * The far end of the round-trip cells: sends every record straight back. Ring modes read the ping
 * ring and write the pong ring; 'ring' idles with the default strategy (it spins while traffic is
 * continuous), 'ring-doorbell' never spins or yields, so every ping must wake it through the
 * doorbell. 'port' echoes MessagePort messages.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { BackoffIdleStrategy, RingConsumer, RingProducer, type RecordHandler, type Waitable } from '../../src/native/index.js';
import { MSG_ECHO_DONE, MSG_READY, PHASE_INDEX, PHASE_STOP, type EchoData, type EchoDoneMessage, type ReadyMessage } from './protocol.js';

const data = workerData as EchoData;
/** Main keeps one ping in flight; a larger batch would only matter if it did not. */
const ECHO_BATCH = 16;

async function echoRing(ping: SharedArrayBuffer, pong: SharedArrayBuffer, control: Int32Array): Promise<EchoDoneMessage> {
  const consumer = new RingConsumer(ping);
  const producer = new RingProducer(pong);
  const idle = new BackoffIdleStrategy(data.mode === 'ring-doorbell' ? { spinMicros: 0, yields: 0 } : {});
  let echoed = 0;
  let woken = 0;
  // Counts sleeps that a notify ended, to show how many pings really paid for a wake-up.
  const waitable: Waitable = {
    hasData: () => consumer.hasData(),
    waitForData: (timeoutMs) =>
      consumer.waitForData(timeoutMs).then((reason) => {
        if (reason === 'woken') woken++;
        return reason;
      }),
  };
  const handler: RecordHandler = (type, bytes, offset, length) => {
    const out = producer.tryClaim(type, length);
    // Main has one ping in flight, so the pong ring cannot be full.
    if (out < 0) throw new Error(`pong ring full with ${echoed} records echoed`);
    producer.ring.bytes.set(bytes.subarray(offset, offset + length), out);
    producer.commit();
    echoed++;
  };
  for (;;) {
    const n = consumer.read(handler, ECHO_BATCH);
    if (n > 0) consumer.release();
    // Consumes main's STOP.
    if (Atomics.load(control, PHASE_INDEX) === PHASE_STOP) break;
    if (n === 0) await idle.idle(waitable);
  }
  return { code: MSG_ECHO_DONE, echoed, woken };
}

const control = new Int32Array(data.control);
if (data.mode === 'port') {
  const port = data.port;
  if (port === null) throw new Error('port echo was given no port');
  port.on('message', (message: Uint8Array) => port.postMessage(message));
  parentPort!.postMessage({ code: MSG_READY } satisfies ReadyMessage);
} else {
  if (data.ping === null || data.pong === null) throw new Error(`${data.mode} echo was given no rings`);
  const echoing = echoRing(data.ping, data.pong, control);
  parentPort!.postMessage({ code: MSG_READY } satisfies ReadyMessage);
  parentPort!.postMessage(await echoing);
}
