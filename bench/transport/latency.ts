/**
 * Round-trip latency of a 64-byte record, main → worker → main, one record in flight: each RTT goes
 * into a Float64Array, sorted at the end for p50 and p99 (no histogram library needed at this
 * count). Main waits for the pong with the default BackoffIdleStrategy in the ring cells.
 */

import { MessageChannel } from 'node:worker_threads';
import { BackoffIdleStrategy, RingConsumer, RingProducer, attachRing, createRing, type RecordHandler } from '../../src/native/index.js';
import { publishPhase } from './phase-clock.js';
import { makePayload, stamp } from './payload.js';
import { CONTROL_BYTES, MSG_ECHO_DONE, PHASE_STOP, RING_CAPACITY, type EchoData, type EchoMode } from './protocol.js';
import { RecordSink } from './record-sink.js';
import { STALL_MS, stallError } from './stall-guard.js';
import { WorkerHandle } from './worker-handle.js';
import { ECHO_WORKER } from './worker-urls.js';

export interface LatencyRow {
  transport: string;
  p50Us: number;
  p99Us: number;
}

export interface LatencyPlan {
  warmup: number;
  count: number;
}

export interface RingLatency {
  row: LatencyRow;
  /** Share of pings whose echo needed a doorbell notify to wake the worker. */
  wokenShare: number;
}

const RECORD_BYTES = 64;
/**
 * Doorbell cell only: the pause before each ping, long enough for the worker to have gone back to
 * sleep (it does so within a few µs of echoing), so each ping needs a futex wake. Not timed.
 */
const DOORBELL_GAP_MS = 0.1;

export async function ringLatency(mode: Exclude<EchoMode, 'port'>, plan: LatencyPlan): Promise<RingLatency> {
  const controlSab = new SharedArrayBuffer(CONTROL_BYTES);
  const control = new Int32Array(controlSab);
  const ping = createRing({ capacity: RING_CAPACITY });
  const pong = createRing({ capacity: RING_CAPACITY });
  const data: EchoData = { mode, control: controlSab, ping, pong, port: null };
  const transport = mode === 'ring' ? 'ring-rtt' : 'ring-doorbell-rtt';
  const echo = await WorkerHandle.start(`${transport} echo`, ECHO_WORKER, data);
  try {
    const producer = new RingProducer(ping);
    const consumer = new RingConsumer(pong);
    const idle = new BackoffIdleStrategy();
    const payload = makePayload(RECORD_BYTES);
    const words = new Int32Array(payload.buffer);
    const sink = new RecordSink(RECORD_BYTES, 1, false);
    const handler: RecordHandler = (_type, bytes, offset, length) => sink.accept(bytes.subarray(offset, offset + length), 0);
    const rtts = new Float64Array(plan.count);
    const total = plan.warmup + plan.count;
    for (let i = 0; i < total; i++) {
      if (mode === 'ring-doorbell') spinFor(DOORBELL_GAP_MS);
      stamp(words, i);
      const t0 = performance.now();
      const offset = producer.tryClaim(1, RECORD_BYTES);
      if (offset < 0) throw new Error(`ping ring full at round trip ${i}`);
      producer.ring.bytes.set(payload, offset);
      producer.commit();
      const started = performance.now();
      while (consumer.read(handler, 1) === 0) {
        if (!(await idle.idle(consumer))) {
          echo.throwIfFailed();
          const error = stallError(performance.now() - started, `pong ${i}`);
          if (error !== null) throw error;
        }
      }
      consumer.release();
      const t1 = performance.now();
      if (i >= plan.warmup) rtts[i - plan.warmup] = (t1 - t0) * 1000;
    }
    publishPhase(control, PHASE_STOP);
    attachRing(ping).dataDoorbell.interrupt();
    const done = await echo.next(MSG_ECHO_DONE, STALL_MS);
    if (sink.errors > 0) throw new Error(`${transport}: ${sink.errors} integrity errors; first: ${sink.firstError}`);
    if (done.echoed !== total) throw new Error(`${transport}: echo worker echoed ${done.echoed} records, main sent ${total}`);
    return { row: percentiles(transport, rtts), wokenShare: done.woken / total };
  } finally {
    await echo.stop();
  }
}

export async function portLatency(plan: LatencyPlan): Promise<LatencyRow> {
  const controlSab = new SharedArrayBuffer(CONTROL_BYTES);
  const { port1, port2 } = new MessageChannel();
  const data: EchoData = { mode: 'port', control: controlSab, ping: null, pong: null, port: port2 };
  const echo = await WorkerHandle.start('postMessage-rtt echo', ECHO_WORKER, data, [port2]);
  let pending: { resolve: (message: Uint8Array) => void; reject: (error: Error) => void } | null = null;
  let lastPong = performance.now();
  port1.on('message', (message: Uint8Array) => {
    lastPong = performance.now();
    const waiter = pending;
    pending = null;
    waiter?.resolve(message);
  });
  // One timer for the whole run rather than one per round trip: a dead or stuck echo fails the wait.
  const watchdog = setInterval(() => {
    if (pending === null) return;
    let error: Error | null = null;
    try {
      echo.throwIfFailed();
    } catch (failure) {
      error = failure as Error;
    }
    error ??= stallError(performance.now() - lastPong, 'a postMessage pong');
    if (error !== null) {
      const waiter = pending;
      pending = null;
      waiter.reject(error);
    }
  }, 250);
  try {
    const payload = makePayload(RECORD_BYTES);
    const words = new Int32Array(payload.buffer);
    const sink = new RecordSink(RECORD_BYTES, 1, false);
    const rtts = new Float64Array(plan.count);
    const total = plan.warmup + plan.count;
    for (let i = 0; i < total; i++) {
      stamp(words, i);
      const t0 = performance.now();
      const pongArrived = new Promise<Uint8Array>((resolve, reject) => (pending = { resolve, reject }));
      port1.postMessage(payload);
      sink.accept(await pongArrived, 0);
      const t1 = performance.now();
      if (i >= plan.warmup) rtts[i - plan.warmup] = (t1 - t0) * 1000;
    }
    if (sink.errors > 0) throw new Error(`postMessage-rtt: ${sink.errors} integrity errors; first: ${sink.firstError}`);
    return percentiles('postMessage-rtt', rtts);
  } finally {
    clearInterval(watchdog);
    port1.close();
    await echo.stop();
  }
}

function percentiles(transport: string, rtts: Float64Array): LatencyRow {
  const sorted = rtts.slice().sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { transport, p50Us: at(0.5), p99Us: at(0.99) };
}

function spinFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}
