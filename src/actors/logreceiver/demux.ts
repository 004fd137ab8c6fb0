/**
 * Logreceiver's core: demultiplexes dataset batches into per-job batches (a zone may have several
 * jobs) and coalesces the small ones, without decoding a payload: each event's msgpack bytes are
 * copied by range into its jobs' batches.
 *
 * Memory is bounded whatever the number of jobs: a job has an open batch only while it has
 * pending events; writers are recycled (at most 4096 kept), their batch buffers through a
 * BufferPool of size classes (free bytes at most `maxPoolBytes`), so a small batch holds a small
 * buffer whatever batch its writer made before; and when the pending bytes pass `maxPendingBytes`
 * or the open batches pass `maxOpenJobs`, the oldest open batches are made ready until both are
 * back under 90% of their limit (flushOldest).
 */

import { BufferPool } from '../../runtime/buffer-pool.js';
import { BatchWriter, type BatchReader, type Codec } from '../../runtime/codec.js';

/**
 * Which jobs (by ledger slot) take the events of `zone` in `dataset`. Called once per distinct zone
 * of a batch, with the key as a number when it is plain digits (BatchReader.keyNumber: no string
 * made), else as the key's string.
 */
export type JobLookup = (dataset: string, zone: string | number) => readonly number[];

export interface DemuxOptions {
  /** A job's batch is ready at this size. Default 64 KiB. */
  targetBatchBytes?: number;
  /** A job's batch is ready at this many events. Default 2048. */
  targetBatchEvents?: number;
  /**
   * Past this many pending bytes, the oldest open batches are made ready (flushOldest). Default 16
   * MiB: a job's batch stays open about as long as the traffic takes to bring that much. Tried and
   * not kept: 24 and 32 MiB read +8.7% and +8.2% more events/s in six paired runs each (3 M events,
   * 1,000 jobs), but at 24 the code read +4.6% against the code before flushOldest where 16 read
   * +10.3% (noise), with a peak RSS 40 MiB higher; bench:pipeline's gzip run peaked at 995 MiB once
   * with 32.
   */
  maxPendingBytes?: number;
  /** Past this many open jobs, the oldest open batches are made ready (flushOldest). Default 16,384. */
  maxOpenJobs?: number;
  /** Writers kept for reuse. Default 4096. */
  poolSize?: number;
  /**
   * Free bytes of batch buffers kept for reuse. Default 64 MiB: a buffer per open job, so a flush
   * of every open batch does not make them all again. At 32 MiB, for writers that each kept what
   * they grew to, bench:scale's hot set (1,000 busy jobs, ~64 KiB batches) let half of them go
   * after every flush and made ~1 GB of ArrayBuffers in 20 s, each growth a new one: Logreceiver
   * did a full GC every ~0.5 s.
   */
  maxPoolBytes?: number;
}

/** Counts what `add` places, per slot (the caller's held count). */
export interface PlacementTally {
  add(slot: number, n: number): void;
}

export interface ReadyBatch {
  slot: number;
  events: number;
  /** Valid until the batch is recycled. */
  bytes: Uint8Array;
}

interface Open {
  /** Its key in `open` (slot × MAX_DATASETS + the dataset's index). */
  key: number;
  slot: number;
  dataset: string;
  writer: BatchWriter;
  /** The writer's byteLength after its last event (tryForward's answer: no getter per event). */
  bytes: number;
  /** When the first event went in (for the caller's max-delay flush). */
  since: number;
}

const NO_JOBS: readonly number[] = Object.freeze([]);
/**
 * A new writer's payload room: 16 KiB while few batches are open (a busy job's batch grows from
 * there without many doublings), 1 KiB once many are (a burst over many new jobs). With 16 KiB for
 * every writer, 10,000 events for 10,000 new jobs took 0.4-1.7 s and ~19 KB a job in one
 * synchronous record: long enough, twice in a row, for the watchdog to take Logreceiver for
 * stalled. Writers grow by doubling, and pooled writers keep what they grew to.
 */
const WRITER_ROOMY_BYTES = 16 * 1024;
const WRITER_SMALL_BYTES = 1024;
/** Open batches past which new writers start small: at most this many roomy ones, 32 MiB. */
const ROOMY_WRITERS = 2048;
/** What flushOldest brings the pending bytes and the open jobs down to, as a fraction of their limits. */
const FLUSH_DOWN_TO = 0.9;
/** Datasets told apart in the open batches' keys (slot × MAX_DATASETS + index stays a safe integer for 32-bit slots and zones). */
const MAX_DATASETS = 16;

export class Demultiplexer {
  private readonly options: Required<DemuxOptions>;
  /** Open batches by slot × MAX_DATASETS + the dataset's index: a number, no string built per event. */
  private readonly open = new Map<number, Open>();
  /** Index of each dataset seen (bounded: past MAX_DATASETS, everything open is flushed and it starts over). */
  private readonly datasetIndex = new Map<string, number>();
  /** Writers kept for reuse, without their batch buffers (those are in `buffers`). */
  private readonly pool: BatchWriter[] = [];
  private readonly buffers: BufferPool;
  private readonly ready: (ReadyBatch & { writer: BatchWriter })[] = [];
  private pendingBytes = 0;
  /** Bytes of batches made ready and not yet taken back with recycleAll. */
  private readyByteCount = 0;
  /** Per-batch cache: the jobs of each distinct key of the batch being demultiplexed. */
  private jobsByKey: (readonly number[])[] = [];
  /** Events that matched no job in the last `add` (counted by the caller). */
  unrouted = 0;

  constructor(
    private readonly codec: Codec,
    private readonly lookup: JobLookup,
    options: DemuxOptions = {},
    private readonly tally: PlacementTally | null = null,
  ) {
    this.options = { targetBatchBytes: 64 * 1024, targetBatchEvents: 2048, maxPendingBytes: 16 << 20, maxOpenJobs: 16_384, poolSize: 4096, maxPoolBytes: 64 << 20, ...options };
    for (const [key, value] of Object.entries(this.options)) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`demux option ${key} must be a positive integer, got ${value}`);
    }
    // Buffers past the writers' maxBytes are made for one batch and not kept.
    this.buffers = new BufferPool({ maxFreeBytes: this.options.maxPoolBytes, maxFreeBuffers: this.options.poolSize, maxPooledBytes: this.writerMaxBytes() });
  }

  /** Adds every event of `reader`'s batch to its jobs' open batches; returns events placed (an event with 2 jobs counts 2). */
  add(reader: BatchReader, now: number): number {
    const dataset = reader.dataset;
    const keyCount = reader.keyCount;
    const jobsByKey = this.jobsByKey;
    jobsByKey.length = keyCount;
    for (let k = 0; k < keyCount; k++) {
      const zone = reader.keyNumber(k);
      jobsByKey[k] = this.lookup(dataset, zone >= 0 ? zone : reader.keyByIndex(k)) ?? NO_JOBS;
    }
    const base = this.indexOf(dataset);
    let placed = 0;
    let unrouted = 0;
    const count = reader.count;
    for (let i = 0; i < count; i++) {
      const jobs = jobsByKey[reader.keyIndex(i)]!;
      if (jobs.length === 0) {
        unrouted++;
        continue;
      }
      for (let j = 0; j < jobs.length; j++) {
        this.place(jobs[j]!, jobs[j]! * MAX_DATASETS + base, dataset, reader, i, now);
        this.tally?.add(jobs[j]!, 1);
        placed++;
      }
    }
    this.unrouted = unrouted;
    if (this.pendingBytes > this.options.maxPendingBytes || this.open.size > this.options.maxOpenJobs) this.flushOldest();
    return placed;
  }

  private indexOf(dataset: string): number {
    let index = this.datasetIndex.get(dataset);
    if (index === undefined) {
      if (this.datasetIndex.size >= MAX_DATASETS) {
        this.flushAll();
        this.datasetIndex.clear();
      }
      index = this.datasetIndex.size;
      this.datasetIndex.set(dataset, index);
    }
    return index;
  }

  private place(slot: number, key: number, dataset: string, reader: BatchReader, i: number, now: number): void {
    let open = this.open.get(key) ?? this.openBatch(key, slot, dataset, now);
    let bytes = open.writer.tryForward(reader, i);
    if (bytes < 0) {
      this.makeReady(open);
      open = this.openBatch(key, slot, dataset, now);
      bytes = open.writer.tryForward(reader, i);
      // An empty batch refuses only what no batch takes, and tryForward threw for that already.
      if (bytes < 0) throw new Error(`demux: an empty batch refused event ${i}`);
    }
    this.pendingBytes += bytes - open.bytes;
    open.bytes = bytes;
    if (bytes >= this.options.targetBatchBytes || open.writer.count >= this.options.targetBatchEvents) this.makeReady(open);
  }

  /**
   * Makes ready every open batch older than `maxDelayMs` (call on a timer or when idle). The open
   * batches are in the Map in the order they opened (a batch made ready leaves it), so the oldest
   * come first and the walk stops at the first young one: O(batches made ready), not O(open jobs)
   * per call (values(), not entries(): no [key, value] pair allocated per entry).
   */
  flushOlderThan(now: number, maxDelayMs: number): void {
    for (const open of this.open.values()) {
      if (now - open.since < maxDelayMs) return;
      this.makeReady(open);
    }
  }

  /**
   * Makes ready the oldest open batches until the pending bytes and the open jobs are both at most
   * FLUSH_DOWN_TO of their limits (add calls it when one is passed). A batch is then made ready
   * once the batches opened before it are (or by its size, or its age: flushOlderThan), never just
   * after it opened. Making everything ready instead sent each quiet job a batch of a few events at
   * every flush, about every 0.1 s at 400 k events/s: 3 M events of bench:pipeline's traffic made
   * 49,427 batches for Buftee and Logpush, against 31,355 this way, with the same bound on memory.
   */
  flushOldest(): void {
    const bytes = this.options.maxPendingBytes * FLUSH_DOWN_TO;
    const jobs = this.options.maxOpenJobs * FLUSH_DOWN_TO;
    for (const open of this.open.values()) {
      if (this.pendingBytes <= bytes && this.open.size <= jobs) return;
      this.makeReady(open);
    }
  }

  flushAll(): void {
    for (const open of this.open.values()) this.makeReady(open);
  }

  /** Takes the ready batches; hand each back with `recycle` once sent. */
  takeReady(): readonly ReadyBatch[] {
    return this.ready;
  }

  /** Returns every taken batch's writer to the pool. */
  recycleAll(): void {
    for (const r of this.ready) this.recycle(r.writer);
    this.ready.length = 0;
    this.readyByteCount = 0;
  }

  get openJobs(): number {
    return this.open.size;
  }

  get pending(): number {
    return this.pendingBytes;
  }

  /** Bytes of the batches ready and not yet sent. */
  get readyBytes(): number {
    return this.readyByteCount;
  }

  /** Whether batches are ready to be taken. */
  get hasReady(): boolean {
    return this.ready.length > 0;
  }

  private makeReady(open: Open): void {
    this.open.delete(open.key);
    const events = open.writer.count;
    this.pendingBytes -= open.writer.byteLength;
    if (events === 0) {
      this.recycle(open.writer);
      return;
    }
    const bytes = open.writer.finish();
    this.readyByteCount += bytes.length;
    this.ready.push({ slot: open.slot, events, bytes, writer: open.writer });
  }

  private openBatch(key: number, slot: number, dataset: string, now: number): Open {
    const writer = this.writer().begin(dataset, this.open.size < ROOMY_WRITERS ? WRITER_ROOMY_BYTES : WRITER_SMALL_BYTES);
    const open = { key, slot, dataset, writer, bytes: writer.byteLength, since: now };
    this.open.set(key, open);
    this.pendingBytes += open.bytes;
    return open;
  }

  /** Gives the writer's buffer back and keeps the writer for reuse, up to poolSize of them. */
  private recycle(writer: BatchWriter): void {
    writer.release();
    if (this.pool.length < this.options.poolSize) this.pool.push(writer);
  }

  private writer(): BatchWriter {
    // No buffer until begin (it takes one of the size openBatch asks for).
    return this.pool.pop() ?? new BatchWriter(this.codec, { maxBytes: this.writerMaxBytes(), initialBytes: 0, pool: this.buffers });
  }

  private writerMaxBytes(): number {
    return Math.max(this.options.targetBatchBytes * 2, 1 << 20);
  }

  /** Lets go of free buffers no batch needed since the last call (BufferPool.trim); call every few seconds. */
  trim(): number {
    return this.buffers.trim();
  }

  /** Free batch buffers kept (bytes, count), writers kept, and buffers made new or reused since start. */
  get poolStats(): { freeBytes: number; freeBuffers: number; writers: number; allocated: number; reused: number } {
    return { freeBytes: this.buffers.freeBytes, freeBuffers: this.buffers.freeBuffers, writers: this.pool.length, allocated: this.buffers.allocated, reused: this.buffers.reused };
  }
}
