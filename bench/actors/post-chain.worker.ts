/**
 * One link of the postMessage chain: structured clone on every hop. The source posts the same
 * 256-event array while it holds credit; a forward link passes each batch on; the sink touches
 * every event and returns credit to the source, so no queue grows without bound. Any message on
 * parentPort stops the link.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { makeHttpRequestEvents } from '../codec/event.js';

interface Input {
  role: 'source' | 'forward' | 'sink';
  inbound?: MessagePort;
  next?: MessagePort;
  /** Source: credit arrives here; sink: credit leaves here. */
  credit?: MessagePort;
  counter?: SharedArrayBuffer;
  window: number;
  eventsPerBatch: number;
}

type Event = { EdgeResponseStatus: number };
const input = workerData as Input;
const ports = [input.inbound, input.next, input.credit].filter((p): p is MessagePort => p !== undefined);
parentPort!.once('message', () => ports.forEach((p) => p.close()));

switch (input.role) {
  case 'source': {
    const batch = makeHttpRequestEvents(input.eventsPerBatch, 7);
    let credit = input.window;
    const pump = (): void => {
      for (; credit > 0; credit--) input.next!.postMessage(batch);
    };
    input.credit!.on('message', (n: number) => {
      credit += n;
      pump();
    });
    pump();
    break;
  }
  case 'forward':
    input.inbound!.on('message', (batch: Event[]) => input.next!.postMessage(batch));
    break;
  case 'sink': {
    const counter = new Int32Array(input.counter!);
    let status = 0;
    input.inbound!.on('message', (batch: Event[]) => {
      for (let i = 0; i < batch.length; i++) status += batch[i]!.EdgeResponseStatus;
      // Publishes progress to the benchmark's main thread.
      Atomics.add(counter, 0, batch.length);
      input.credit!.postMessage(status === -1 ? 0 : 1);
    });
    break;
  }
  default:
    throw new Error(`unknown link role ${String(input.role)}`);
}
