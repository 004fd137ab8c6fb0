/**
 * The memcpy ceiling: Uint8Array.prototype.set of one record into a SharedArrayBuffer the size of a
 * bench ring, at advancing offsets, on one thread. A ring cell moves each record with two such
 * copies (producer in, consumer out) on two threads at once, so this is the most it could reach.
 */

import type { CellTiming } from './phase-clock.js';
import { makePayload } from './payload.js';
import { RING_CAPACITY } from './protocol.js';
import type { ThroughputRow } from './throughput.js';

const BATCH = 256;

export function memcpyCell(bytes: number, timing: CellTiming): ThroughputRow {
  const target = new Uint8Array(new SharedArrayBuffer(RING_CAPACITY));
  const payload = makePayload(bytes);
  let offset = 0;
  const copyBatch = (): void => {
    for (let i = 0; i < BATCH; i++) {
      if (offset + bytes > RING_CAPACITY) offset = 0;
      target.set(payload, offset);
      offset += bytes;
    }
  };
  const warmupEnd = performance.now() + timing.warmupMs;
  while (performance.now() < warmupEnd) copyBatch();
  const start = performance.now();
  const end = start + timing.measureMs;
  let copies = 0;
  let now = start;
  while (now < end) {
    copyBatch();
    copies += BATCH;
    now = performance.now();
  }
  const opsPerSec = (copies * 1000) / (now - start);
  return { transport: 'memcpy', bytes, opsPerSec, mbPerSec: (opsPerSec * bytes) / 1e6 };
}
