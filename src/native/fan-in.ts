/**
 * Many producers to one consumer as one one-to-one ring per producer, read by a fan-in consumer
 * that visits the rings in turn. Producers never contend: each owns its TAIL. (The alternative,
 * a CAS on one shared TAIL, is ManyToOneProducer; bench/transport measures both.)
 */

import type { WakeReason } from './doorbell.js';
import { RingConsumer, type RecordHandler } from './ring-consumer.js';

export interface DataSource {
  read(handler: RecordHandler, limit?: number): number;
  release(): void;
  hasData(): boolean;
  waitForData(timeoutMs: number): Promise<WakeReason>;
}

export class FanInConsumer implements DataSource {
  readonly consumers: readonly RingConsumer[];
  private next = 0;
  /** The index of the ring whose records the handler is being given now (in `consumers`). */
  currentRing = 0;

  constructor(rings: readonly (RingConsumer | SharedArrayBuffer)[]) {
    if (rings.length === 0) throw new RangeError('a fan-in consumer needs at least 1 ring, got 0');
    this.consumers = rings.map((r) => (r instanceof RingConsumer ? r : new RingConsumer(r)));
  }

  /** Reads up to `limit` records, starting at a different ring each call so none starves. */
  read(handler: RecordHandler, limit: number = 0x7fffffff): number {
    const consumers = this.consumers;
    const n = consumers.length;
    let count = 0;
    for (let i = 0; i < n && count < limit; i++) {
      const ring = (this.next + i) % n;
      this.currentRing = ring;
      count += consumers[ring]!.read(handler, limit - count);
    }
    this.next = (this.next + 1) % n;
    return count;
  }

  release(): void {
    for (const c of this.consumers) c.release();
  }

  rewind(): void {
    for (const c of this.consumers) c.rewind();
  }

  hasData(): boolean {
    for (const c of this.consumers) if (c.hasData()) return true;
    return false;
  }

  get unreleasedBytes(): number {
    let total = 0;
    for (const c of this.consumers) total += c.unreleasedBytes;
    return total;
  }

  get occupiedBytes(): number {
    let total = 0;
    for (const c of this.consumers) total += c.occupiedBytes;
    return total;
  }

  /** Sleeps on every ring's doorbell at once; the first to ring wakes the consumer. */
  async waitForData(timeoutMs: number): Promise<WakeReason> {
    const consumers = this.consumers;
    if (consumers.length === 1) return consumers[0]!.waitForData(timeoutMs);
    const seqs = consumers.map((c) => c.ring.dataDoorbell.prepare());
    if (this.hasData()) {
      for (const c of consumers) c.ring.dataDoorbell.cancel();
      return 'changed';
    }
    const reason = await Promise.race(consumers.map((c, i) => c.ring.dataDoorbell.wait(seqs[i]!, timeoutMs)));
    // Retires the waits still pending on the other rings (only this consumer waits on them).
    for (const c of consumers) {
      c.ring.dataDoorbell.cancel();
      c.ring.dataDoorbell.interrupt();
    }
    return reason;
  }
}
