/**
 * One throughput cell: a transport, a record size, warm-up then a fixed measurement window, and
 * the rate the consumer worker verified. Main produces for the single-producer transports; for the
 * many-producer schemes, producer workers do and main only runs the clock.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel, type Transferable } from 'node:worker_threads';
import { RingBuffer as ByteRing } from 'ringbuf.js';
import { ManyToOneProducer, RingProducer, attachRing, createRing } from '../../src/native/index.js';
import { PhaseClock, type CellTiming } from './phase-clock.js';
import { produceRing } from './produce-ring.js';
import { producePort, produceRingbuf } from './main-producers.js';
import { CMD_STOP, CONTROL_BYTES, MSG_CONSUMED, MSG_PRODUCED, RING_CAPACITY, type ConsumedMessage, type ConsumerData, type ConsumerTransport } from './protocol.js';
import { stallError, type StallGuard } from './stall-guard.js';
import { WorkerHandle } from './worker-handle.js';
import { CONSUMER_WORKER, PRODUCER_WORKER } from './worker-urls.js';

export interface ThroughputRow {
  transport: string;
  bytes: number;
  opsPerSec: number;
  mbPerSec: number;
}

/** Transports with main as the one producer. */
export type MainTransport = 'ring' | 'ring-many-to-one' | 'postMessage-copy' | 'postMessage-transfer' | 'ringbuf.js';

/** Many producer workers into one consumer worker. */
export type ManyScheme = 'fan-in' | 'many-to-one';

/** How long main waits for the consumer's report after STOP (a drain of at most one window). */
const REPORT_TIMEOUT_MS = 30_000;

export function rowName(transport: MainTransport, checksum: boolean): string {
  return checksum ? `${transport}+checksum` : transport;
}

export function manyRowName(scheme: ManyScheme, producers: number): string {
  return scheme === 'fan-in' ? `ring-fan-in-${producers}-producers` : `ring-many-to-one-${producers}-producers`;
}

export async function mainProducerCell(transport: MainTransport, bytes: number, checksum: boolean, timing: CellTiming): Promise<ThroughputRow> {
  const controlSab = new SharedArrayBuffer(CONTROL_BYTES);
  const control = new Int32Array(controlSab);
  const channel = transport.startsWith('postMessage') ? new MessageChannel() : null;
  const ring =
    transport === 'ring' || transport === 'ring-many-to-one'
      ? createRing({ capacity: RING_CAPACITY, kind: transport === 'ring' ? 'one-to-one' : 'many-to-one' })
      : transport === 'ringbuf.js'
        ? ByteRing.getStorageForCapacity(RING_CAPACITY, Uint8Array)
        : null;
  const consumerTransport: ConsumerTransport =
    transport === 'postMessage-copy' ? 'port-copy' : transport === 'postMessage-transfer' ? 'port-transfer' : transport === 'ringbuf.js' ? 'ringbuf.js' : 'ring';
  const data: ConsumerData = { transport: consumerTransport, bytes, producers: 1, checksum, control: controlSab, rings: ring === null ? [] : [ring], port: channel?.port2 ?? null };
  const transferList: Transferable[] = channel === null ? [] : [channel.port2];
  const name = rowName(transport, checksum);
  const consumer = await WorkerHandle.start(`${name} consumer`, CONSUMER_WORKER, data, transferList);
  try {
    const clock = new PhaseClock(control, timing);
    const running = (): boolean => clock.tick();
    const guard = guardFor([consumer], running);
    clock.start();
    switch (transport) {
      case 'ring':
        await produceRing(new RingProducer(ring!), 1, bytes, running, guard);
        break;
      case 'ring-many-to-one':
        await produceRing(new ManyToOneProducer(ring!), 1, bytes, running, guard);
        break;
      case 'postMessage-copy':
      case 'postMessage-transfer':
        await producePort(channel!.port1, transport === 'postMessage-transfer', bytes, control, running, guard);
        break;
      case 'ringbuf.js':
        await produceRingbuf(ring!, bytes, running, guard);
        break;
      default:
        throw new Error(`unknown transport ${String(transport satisfies never)}`);
    }
    wakeConsumer(consumer, ring !== null && transport !== 'ringbuf.js' ? [ring] : [], channel !== null);
    return toRow(name, bytes, await consumer.next(MSG_CONSUMED, REPORT_TIMEOUT_MS));
  } finally {
    await consumer.stop();
    channel?.port1.close();
  }
}

export async function manyProducerCell(scheme: ManyScheme, producers: number, bytes: number, timing: CellTiming): Promise<ThroughputRow> {
  const controlSab = new SharedArrayBuffer(CONTROL_BYTES);
  const control = new Int32Array(controlSab);
  // Every ring has the bench's one capacity: fan-in gets one per producer, many-to-one shares one.
  const rings =
    scheme === 'fan-in'
      ? Array.from({ length: producers }, () => createRing({ capacity: RING_CAPACITY, kind: 'one-to-one' }))
      : [createRing({ capacity: RING_CAPACITY, kind: 'many-to-one' })];
  const name = manyRowName(scheme, producers);
  const data: ConsumerData = { transport: scheme === 'fan-in' ? 'fan-in' : 'ring', bytes, producers, checksum: false, control: controlSab, rings, port: null };
  const handles: WorkerHandle[] = [];
  try {
    handles.push(await WorkerHandle.start(`${name} consumer`, CONSUMER_WORKER, data));
    for (let p = 0; p < producers; p++) {
      const ring = rings[scheme === 'fan-in' ? p : 0]!;
      handles.push(await WorkerHandle.start(`${name} producer ${p}`, PRODUCER_WORKER, { ring, producer: p, bytes, control: controlSab }));
    }
    const [consumer, ...producerHandles] = handles as [WorkerHandle, ...WorkerHandle[]];
    const clock = new PhaseClock(control, timing);
    clock.start();
    while (clock.tick()) {
      await sleep(Math.max(1, clock.untilNext()));
      for (const h of handles) h.throwIfFailed();
    }
    for (const h of producerHandles) {
      const produced = await h.next(MSG_PRODUCED, REPORT_TIMEOUT_MS);
      if (produced.records <= 0) throw new Error(`${h.name} wrote no records`);
    }
    wakeConsumer(consumer, rings, false);
    return toRow(name, bytes, await consumer.next(MSG_CONSUMED, REPORT_TIMEOUT_MS));
  } finally {
    await Promise.all(handles.map((h) => h.stop()));
  }
}

/** A consumer asleep when STOP came would otherwise notice it only after its doorbell sleep. */
function wakeConsumer(consumer: WorkerHandle, rings: readonly SharedArrayBuffer[], port: boolean): void {
  for (const ring of rings) attachRing(ring).dataDoorbell.interrupt();
  if (port) consumer.send({ code: CMD_STOP });
}

function guardFor(peers: readonly WorkerHandle[], running: () => boolean): StallGuard {
  return {
    stopped: () => !running(),
    check(waitedMs, what) {
      for (const peer of peers) peer.throwIfFailed();
      const error = stallError(waitedMs, what);
      if (error !== null) throw error;
    },
  };
}

/** Fails loudly on any integrity error or empty window; otherwise the rate the consumer verified. */
function toRow(transport: string, bytes: number, consumed: ConsumedMessage): ThroughputRow {
  if (consumed.errors > 0) {
    throw new Error(`${transport} at ${bytes} B: ${consumed.errors} integrity errors in ${consumed.totalRecords} records; first: ${consumed.firstError}`);
  }
  if (!(consumed.records > 0 && consumed.elapsedMs > 0)) {
    throw new Error(`${transport} at ${bytes} B: the consumer measured ${consumed.records} records in ${consumed.elapsedMs} ms`);
  }
  const opsPerSec = (consumed.records * 1000) / consumed.elapsedMs;
  return { transport, bytes, opsPerSec, mbPerSec: (opsPerSec * bytes) / 1e6 };
}
