/**
 * One job's buffer: its batches in order, offsets 0, 1, 2, … in this incarnation of the buffer,
 * and its consumers, each with two cursors (the tee):
 *
 *   firstOffset            acked            next                nextOffset
 *   │ oldest batch held     │ first unacked  │ first unread       │ offset of the next append
 *   ▼                       ▼                ▼                    ▼
 *   [ b ][ b ][ b ][ b ][ b ][ b ][ b ][ b ][ b ][ b ][ b ][ b ][ b ]
 *                           └ read, not acked┘└─ not read yet ────┘
 *
 * `read` hands out batches from `next` on and moves `next`; `ack(offset)` commits everything up to
 * and including `offset` (acked = offset + 1); `rewind` sets `next` back to `acked`, for a consumer
 * whose upload failed or whose successor starts over.
 *
 * Batches are freed from the front only, as a queue: the oldest batch goes once every consumer has
 * acked it or does not want it (its resolution skips it). A batch some consumer still needs keeps
 * the batches behind it, which costs memory only while that consumer lags, and keeps the buffer a
 * contiguous run of offsets. A buffer with no consumer keeps its batches (bounded by its budget and
 * overflow policy) until one subscribes or the buffer expires: freeing them would be a silent drop.
 */

import type { BufferPool } from '../../runtime/buffer-pool.js';
import { offsetError } from './errors.js';
import { nextWanted, wants } from './resolutions.js';

/**
 * Bytes a batch is charged beyond its data: its record, its Uint8Array and ArrayBuffer, and its
 * slot in the queue. Measured on Node 20.20 (heapUsed + arrayBuffers over 50,000 appends to one
 * buffer): 250 bytes for batches of 0, 65, 1 KiB and 16 KiB, 265 for 64 (V8 keeps typed arrays of
 * up to 64 bytes on the heap). Without it, a flood of tiny batches would hold memory that no byte
 * budget sees.
 */
export const BATCH_OVERHEAD_BYTES = 256;

/** A batch as Buftee holds it. The data is shared by every consumer: treat it as read-only. */
export interface BufferedBatch {
  readonly offset: number;
  readonly data: Uint8Array;
  readonly events: number;
  /** data.byteLength; the buffer is charged bytes + BATCH_OVERHEAD_BYTES. */
  readonly bytes: number;
}

export interface Consumer {
  readonly id: string;
  /** The resolution's stride: 1 for full, N for sampled:N. */
  every: number;
  /** First offset not acked. */
  acked: number;
  /** First offset not read. */
  next: number;
}

/** Events a consumer had not read in batches that were dropped. */
export interface ConsumerLoss {
  readonly consumer: string;
  readonly events: number;
}

export interface DroppedBatches {
  readonly batches: number;
  readonly events: number;
  /** Data bytes, overhead not included. */
  readonly bytes: number;
  /**
   * Per consumer that had not read some of them (and whose resolution wanted them), how many
   * events it lost: for the ledger, as `buffer_full` (or the caller's reason for a deletion).
   * Batches a consumer had read but not acked are not lost to it: it holds them. With no consumer
   * subscribed, every event in `events` was unread.
   */
  readonly unreadBy: readonly ConsumerLoss[];
}

export function chargeOf(bytes: number): number {
  return bytes + BATCH_OVERHEAD_BYTES;
}

// Shared by every empty buffer; never pushed to (`append` replaces it), so an idle buffer holds no
// array of its own. Arrays are built at their size: V8 gives an empty array its first push 17
// slots (~150 bytes), which was a third of an idle buffer.
const EMPTY_QUEUE: BufferedBatch[] = [];
const NO_CONSUMERS: readonly Consumer[] = [];

// Compact the queue once this many freed slots sit at its front and they are half of it: O(1)
// amortized per batch, and a long-lived buffer never keeps a long dead prefix.
const COMPACT_AT = 64;

export class JobBuffer {
  readonly job: string;
  readonly prefix: string;
  /** Buftee-wide counter: tells this buffer from an earlier one of the same job. */
  readonly incarnation: number;
  touchedAt: number;
  /** Charged bytes held (data + BATCH_OVERHEAD_BYTES per batch). */
  bytes = 0;
  events = 0;
  firstOffset = 0;
  nextOffset = 0;
  /** Replaced, never grown in place (see EMPTY_QUEUE). */
  consumers: readonly Consumer[] = NO_CONSUMERS;
  private queue: BufferedBatch[] = EMPTY_QUEUE;
  private head = 0;

  /** Takes back the data of batches this buffer lets go (acked by all, or dropped). */
  private readonly pool: BufferPool | null;

  constructor(job: string, prefix: string, incarnation: number, now: number, pool: BufferPool | null = null) {
    this.pool = pool;
    this.job = job;
    this.prefix = prefix;
    this.incarnation = incarnation;
    this.touchedAt = now;
  }

  get batches(): number {
    return this.queue.length - this.head;
  }

  /** Idle eviction may take a buffer that holds nothing unacked, or that nobody consumes. */
  get evictable(): boolean {
    return this.batches === 0 || this.consumers.length === 0;
  }

  /**
   * Appends a batch (already copied: the buffer owns `data` from here, and gives it back to the
   * pool when it lets the batch go) and frees what no consumer wants; returns its offset.
   */
  append(data: Uint8Array, events: number): number {
    const offset = this.nextOffset++;
    const batch: BufferedBatch = { offset, data, events, bytes: data.byteLength };
    if (this.queue === EMPTY_QUEUE) this.queue = [batch];
    else this.queue.push(batch);
    this.bytes += chargeOf(data.byteLength);
    this.events += events;
    this.release();
    return offset;
  }

  consumer(id: string): Consumer | undefined {
    for (const consumer of this.consumers) if (consumer.id === id) return consumer;
    return undefined;
  }

  /**
   * Adds a consumer, or changes an existing one's resolution. A new consumer starts at the oldest
   * batch held: a late subscriber loses nothing the buffer kept. A changed resolution rewinds the
   * consumer to its first unacked batch: batches its old resolution skipped may be wanted now.
   */
  subscribe(id: string, every: number): void {
    const existing = this.consumer(id);
    if (existing !== undefined) {
      if (existing.every === every) return;
      existing.every = every;
      this.rewind(existing);
      this.release();
      return;
    }
    const consumer: Consumer = { id, every, acked: this.firstOffset, next: this.firstOffset };
    this.consumers = this.consumers.length === 0 ? [consumer] : this.consumers.concat([consumer]);
    this.release();
  }

  removeConsumer(id: string): void {
    const rest = this.consumers.filter((consumer) => consumer.id !== id);
    if (rest.length === this.consumers.length) return;
    this.consumers = rest.length === 0 ? NO_CONSUMERS : rest;
    this.release();
  }

  /** Up to `max` batches the consumer wants, from its `next` on; moves `next` past them. */
  read(consumer: Consumer, max: number): BufferedBatch[] {
    const out: BufferedBatch[] = [];
    let offset = nextWanted(Math.max(consumer.next, this.firstOffset), consumer.every);
    while (offset < this.nextOffset && out.length < max) {
      out.push(this.queue[this.head + offset - this.firstOffset] as BufferedBatch);
      offset += consumer.every;
    }
    consumer.next = offset;
    return out;
  }

  /** Commits every offset up to `offset`; false when that was already acked. */
  ack(consumer: Consumer, offset: number): boolean {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && offset < this.nextOffset)) {
      throw offsetError(this.job, consumer.id, offset, this.nextOffset);
    }
    if (offset < consumer.acked) return false;
    consumer.acked = offset + 1;
    if (consumer.next < consumer.acked) consumer.next = consumer.acked;
    this.release();
    return true;
  }

  rewind(consumer: Consumer): void {
    consumer.next = Math.max(consumer.acked, this.firstOffset);
  }

  /** Drops batches from the front until `bytes` charged bytes are freed (or none is left). */
  dropOldest(bytes: number): DroppedBatches {
    const target = this.bytes - bytes;
    const losses = this.consumers.map(() => 0);
    let batches = 0;
    let events = 0;
    let dataBytes = 0;
    while (this.head < this.queue.length && this.bytes > target) {
      const batch = this.queue[this.head++] as BufferedBatch;
      this.pool?.give(batch.data);
      batches++;
      events += batch.events;
      dataBytes += batch.bytes;
      this.bytes -= chargeOf(batch.bytes);
      this.events -= batch.events;
      for (let i = 0; i < this.consumers.length; i++) {
        const consumer = this.consumers[i] as Consumer;
        if (batch.offset >= consumer.next && wants(batch.offset, consumer.every)) losses[i] = (losses[i] ?? 0) + batch.events;
      }
    }
    this.settleFront();
    for (const consumer of this.consumers) {
      consumer.acked = Math.max(consumer.acked, this.firstOffset);
      consumer.next = Math.max(consumer.next, this.firstOffset);
    }
    const unreadBy: ConsumerLoss[] = [];
    this.consumers.forEach((consumer, i) => {
      const lost = losses[i] ?? 0;
      if (lost > 0) unreadBy.push({ consumer: consumer.id, events: lost });
    });
    return { batches, events, bytes: dataBytes, unreadBy };
  }

  /** Everything held, dropped: for deletion and expiry. */
  dropAll(): DroppedBatches {
    return this.dropOldest(Infinity);
  }

  /** Frees the front batches that every consumer has acked or skips. */
  private release(): void {
    if (this.consumers.length === 0) return;
    let need = Infinity;
    // From firstOffset at least: a sampled consumer's `acked` may lag behind batches freed as
    // unwanted, and after a change of resolution the offset it would want next may be gone.
    const from = this.firstOffset;
    for (const consumer of this.consumers) need = Math.min(need, nextWanted(Math.max(consumer.acked, from), consumer.every));
    while (this.head < this.queue.length) {
      const batch = this.queue[this.head] as BufferedBatch;
      if (batch.offset >= need) break;
      this.head++;
      this.pool?.give(batch.data);
      this.bytes -= chargeOf(batch.bytes);
      this.events -= batch.events;
    }
    this.settleFront();
  }

  private settleFront(): void {
    if (this.head === this.queue.length) {
      this.queue = EMPTY_QUEUE;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.firstOffset = this.head < this.queue.length ? (this.queue[this.head] as BufferedBatch).offset : this.nextOffset;
  }
}
