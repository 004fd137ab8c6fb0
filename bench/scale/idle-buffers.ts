/**
 * bench/scale, one measurement in a process of its own: the heap of N idle Buftee buffers.
 * `node --expose-gc dist/bench/scale/idle-buffers.js N` prints one result line (RESULT_PREFIX + JSON).
 *
 * Idle, as Buftee holds a configured job between bursts: the job configured, Logpush subscribed,
 * one 64-byte batch appended, read and acked, so the buffer is empty and evictable. Memory is
 * heapUsed + arrayBuffers after forced full collections; the job ids exist before the first
 * reading (the config holds them anyway), so they are not counted.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Buftee } from '../../src/actors/buftee/index.js';
import { RESULT_PREFIX } from './child.js';

export interface IdleBuffersResult {
  buffers: number;
  /** Bytes per buffer: the buffer itself, from subscribed to appended, read and acked. */
  bytesPerBuffer: number;
  /** Bytes per job, all Buftee holds for it: its configure entry, its subscription and its idle buffer. */
  bytesPerJob: number;
  /** Of bytesPerJob, the configure entry and the subscription. */
  bytesPerSubscription: number;
  /** heapUsed + arrayBuffers growth for all N jobs, MiB. */
  totalMb: number;
  /** RSS growth for all N jobs, MiB (includes heap the collector keeps reserved). */
  rssMb: number;
  /** Wall time to append, read and ack one batch in each of the N buffers, µs per buffer. */
  createUsPerBuffer: number;
  stats: { buffers: number; batches: number; evictable: number; subscribedJobs: number };
}

const gc: () => void =
  typeof globalThis.gc === 'function'
    ? (globalThis.gc as () => void)
    : (() => {
        setFlagsFromString('--expose-gc');
        return runInNewContext('gc') as () => void;
      })();

interface Reading {
  bytes: number;
  rss: number;
}

function settle(): Reading {
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return { bytes: m.heapUsed + m.arrayBuffers, rss: m.rss };
}

const n = Number(process.argv[2]);
if (!(Number.isSafeInteger(n) && n > 0)) throw new Error(`usage: idle-buffers.js N (a positive integer), got ${JSON.stringify(process.argv[2])}`);

const BATCH = new Uint8Array(64);
const CONSUMER = 'logpush';
const ids = Array.from({ length: n }, (_, i) => `job-${i + 1}`);
const buftee = new Buftee({
  // The measurement's own limits: N buffers may exist and be made at once. The creation rate is
  // a bucket of one second's tokens, full at start.
  limits: { maxBuffers: n, maxBuffersPerPrefix: n, maxNewBuffersPerSecond: n, maxTotalBytes: 2 ** 40 },
});

const start = settle();
buftee.configure(ids.map((id) => ({ id, overflow: 'block' as const })));
for (const id of ids) buftee.subscribe(id, CONSUMER);
const subscribed = settle();
const t0 = performance.now();
for (const id of ids) {
  const appended = buftee.append('http_requests', id, BATCH, 1);
  if (appended.status !== 'appended') throw new Error(`append to ${id} was ${appended.status}: ${JSON.stringify(appended)}`);
  const { batches, incarnation } = buftee.read(id, CONSUMER, 1);
  const batch = batches[0];
  if (batch === undefined) throw new Error(`read of ${id} found no batch`);
  buftee.ack(id, CONSUMER, batch.offset, incarnation);
}
const createMs = performance.now() - t0;
const idle = settle();

const s = buftee.stats();
if (s.buffers !== n || s.batches !== 0) throw new Error(`expected ${n} empty buffers, have ${s.buffers} holding ${s.batches} batches`);
const result: IdleBuffersResult = {
  buffers: n,
  bytesPerBuffer: (idle.bytes - subscribed.bytes) / n,
  bytesPerJob: (idle.bytes - start.bytes) / n,
  bytesPerSubscription: (subscribed.bytes - start.bytes) / n,
  totalMb: (idle.bytes - start.bytes) / 2 ** 20,
  rssMb: (idle.rss - start.rss) / 2 ** 20,
  createUsPerBuffer: (createMs * 1000) / n,
  stats: { buffers: s.buffers, batches: s.batches, evictable: s.evictable, subscribedJobs: s.subscribedJobs },
};
// Keeps everything measured alive up to the last reading.
if (ids.length !== buftee.bufferCount) throw new Error('unreachable');
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
