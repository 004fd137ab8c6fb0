/**
 * A producer worker of the many-to-one cells: writes its own sequence (records of type
 * `producer + 1`) into its ring, a one-to-one ring of its own (fan-in) or the shared many-to-one
 * ring (CAS on TAIL), from WARMUP until main publishes STOP.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { ManyToOneProducer, RingProducer, attachRing, type Producer } from '../../src/native/index.js';
import { produceRing } from './produce-ring.js';
import { MSG_PRODUCED, MSG_READY, PHASE_IDLE, PHASE_INDEX, PHASE_STOP, type ProducedMessage, type ProducerData, type ReadyMessage } from './protocol.js';
import { STALL_MS, stallError, type StallGuard } from './stall-guard.js';

const data = workerData as ProducerData;
const control = new Int32Array(data.control);
const ring = attachRing(data.ring);
const producer: Producer = ring.kind === 'one-to-one' ? new RingProducer(ring) : new ManyToOneProducer(ring);

// Consumes main's phase: producing ends when it reads STOP.
const running = (): boolean => Atomics.load(control, PHASE_INDEX) !== PHASE_STOP;
const guard: StallGuard = {
  stopped: () => !running(),
  check(waitedMs, what) {
    const error = stallError(waitedMs, what);
    if (error !== null) throw error;
  },
};

parentPort!.postMessage({ code: MSG_READY } satisfies ReadyMessage);
// Blocks this thread (nothing else to do) until main starts the cell, in bounded slices.
const bootDeadline = performance.now() + STALL_MS;
// Consumes main's start (the WARMUP phase).
while (Atomics.load(control, PHASE_INDEX) === PHASE_IDLE) {
  if (performance.now() > bootDeadline) throw new Error(`producer ${data.producer}: main did not start the cell within ${STALL_MS} ms`);
  Atomics.wait(control, PHASE_INDEX, PHASE_IDLE, 100);
}
const records = await produceRing(producer, data.producer + 1, data.bytes, running, guard);
parentPort!.postMessage({ code: MSG_PRODUCED, records } satisfies ProducedMessage);
