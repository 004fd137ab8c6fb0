/**
 * Idle cost: a consumer worker on an empty ring with the default idle strategy, which after its
 * spin and yields sleeps on the doorbell (waking every 200 ms to look again). The CPU time of the
 * whole process (process.cpuUsage covers every thread) over the window, while main only awaits a
 * timer, as a percentage of one core.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { attachRing, createRing } from '../../src/native/index.js';
import { publishPhase } from './phase-clock.js';
import { CONTROL_BYTES, MSG_CONSUMED, PHASE_STOP, RING_CAPACITY, type ConsumerData } from './protocol.js';
import { STALL_MS } from './stall-guard.js';
import { WorkerHandle } from './worker-handle.js';
import { CONSUMER_WORKER } from './worker-urls.js';

export interface IdleRow {
  transport: 'ring-idle';
  cpuPercent: number;
}

/** Lets the worker finish booting and reach its doorbell sleep before the window opens. */
const SETTLE_MS = 500;

export async function idleCpu(windowMs: number): Promise<IdleRow> {
  const controlSab = new SharedArrayBuffer(CONTROL_BYTES);
  const ring = createRing({ capacity: RING_CAPACITY });
  const data: ConsumerData = { transport: 'ring', bytes: 256, producers: 1, checksum: false, control: controlSab, rings: [ring], port: null };
  const consumer = await WorkerHandle.start('ring-idle consumer', CONSUMER_WORKER, data);
  try {
    await sleep(SETTLE_MS);
    const before = process.cpuUsage();
    const start = performance.now();
    await sleep(windowMs);
    const used = process.cpuUsage(before);
    const elapsedMs = performance.now() - start;
    consumer.throwIfFailed();
    publishPhase(new Int32Array(controlSab), PHASE_STOP);
    attachRing(ring).dataDoorbell.interrupt();
    const consumed = await consumer.next(MSG_CONSUMED, STALL_MS);
    if (consumed.totalRecords !== 0) throw new Error(`ring-idle: the consumer read ${consumed.totalRecords} records from a ring nobody wrote`);
    return { transport: 'ring-idle', cpuPercent: ((used.user + used.system) / 1000 / elapsedMs) * 100 };
  } finally {
    await consumer.stop();
  }
}
