/**
 * One job's delivery inside the Logpush actor: Buftee batches in, events through the compiled job
 * (filter, sample, format, batch), objects out to the destination (PUTS_PER_JOB at a time, started
 * and confirmed in the order they were sealed), and acks back to Buftee only for batches whose every
 * line the destination confirmed.
 *
 * Lines get consecutive sequence numbers (the upload objects' ledger ids). A batch is complete when
 * the destination confirmed (or refused for good) every line up to its last one; only then is it
 * counted in the ledger (delivered, filtered, sampled, oversized, malformed, destination_failed)
 * and acked. Counting at completion keeps the ledger exact across a Logpush restart: Buftee resends
 * what was not acked, and nothing of it was counted yet. (The destination may then see some lines
 * of a partly confirmed batch twice: delivery is at-least-once.)
 *
 * A destination that fails with a retryable error keeps its object and tries again after a pause,
 * for as long as it takes: the job's events wait in Buftee (bounded by its limits), other jobs go on.
 */

import type { BufferPool } from '../../runtime/buffer-pool.js';
import { fnv1a32, type BatchReader, type CodecStructures } from '../../runtime/codec.js';
import type { JobConfig } from '../job.js';
import type { LedgerView } from '../ledger.js';
import { CompiledJob } from './compiled-job.js';
import type { PutSlots } from './put-slots.js';
import type { Destination } from './destinations/destination.js';
import { isLogpushError, messageOf } from './errors.js';
import { compressObject, type UploadObject } from './upload-object.js';

interface BatchEntry {
  offset: number;
  /** Events in the batch (lines + every kind of drop, once complete). */
  events: number;
  /** Size of the batch as Buftee holds it, until it is acked. */
  bytes: number;
  /** Lines [firstLine, firstLine + lines) of this batch went into objects. */
  firstLine: number;
  lines: number;
  /** Every line of this batch, and of the batches before it, has a sequence number at most this. */
  lastLine: number;
  filtered: number;
  sampled: number;
  oversized: number;
  malformed: number;
  failed: number;
}

/**
 * Objects of one job put at once. Two: a busy job seals its next object while its last one is
 * being put (each put waits for ~6 file-system calls in a row, 50-100 ms in a busy pipeline), and
 * one at a time made that object wait its turn with its batches held in Buftee: in bench:pipeline
 * the busiest job (a seventh of the events) then filled its 8 MiB Buftee buffer and held Buftee's
 * input for ~1.2 s of every ~8 s. Objects are still confirmed (acked) in the order they were sealed.
 */
export const PUTS_PER_JOB = 2;

/** A sealed object and its put: `body` is what is put (the object, or its compressed form). */
interface Sealed {
  readonly object: UploadObject;
  body: UploadObject;
  /** `retry`: failed, to be tried again after the pause (still one of the puts in flight). */
  state: 'queued' | 'putting' | 'retry' | 'done';
  failed: boolean;
}

export interface DeliveryDeps {
  destination: Destination;
  ledger: LedgerView;
  /** Tells Buftee the job's batches up to `offset` are done. */
  ack(slot: number, offset: number, delivered: number, failed: number): void;
  /** A batch is complete (counted in the ledger): its offset and events. */
  completed?(offset: number, events: number): void;
  /** Logs a failed put; `retrying` says whether the object will be tried again. */
  onError(jobId: string, error: unknown, retrying: boolean): void;
  /** Pause before a retryable failure is tried again. Default 2 s. */
  retryDelayMs?: number;
  /** Shared by every job of the Logpush: at most this many puts at once (put-slots.ts). */
  slots?: PutSlots;
  /** Holding more than this many bytes of unacked batches, the job's put goes before others' (PutSlots.acquire urgent). */
  urgentHeldBytes?: number;
  /** The record structures of the batches: lets NDJSON jobs without a filter transcode (CompiledJobOptions.structures). */
  structures?: CodecStructures;
  /** Objects due by their oldest event's time too (UploadBatcherOptions.eventClockOffsetMs; `now` is this thread's performance.now()). */
  eventClockOffsetMs?: number;
  /** Objects' buffers (UploadBatcherOptions.pool): given back once compressed, or once put to a destination that `releasesBody`. */
  pool?: BufferPool;
  /** Spread the jobs' seals: each job's first object is due after a fraction of its interval (0.25-1) drawn from its id (firstIntervalFraction). */
  staggerFirstObject?: boolean;
}

/** 0.25 to 1 from a hash of the job id (FNV-1a): the same job gets the same fraction in every run. */
export function firstIntervalFraction(jobId: string): number {
  return 0.25 + 0.75 * (fnv1a32(jobId) / 2 ** 32);
}

export interface DeliveryCounts {
  batches: number;
  events: number;
  objects: number;
  delivered: number;
  failedObjects: number;
  retries: number;
}

export class JobDelivery {
  readonly compiled: CompiledJob;
  readonly counts: DeliveryCounts = { batches: 0, events: 0, objects: 0, delivered: 0, failedObjects: 0, retries: 0 };
  private readonly entries: BatchEntry[] = [];
  /** Sealed objects in order, until confirmed: at most PUTS_PER_JOB of them being put. */
  private readonly objects: Sealed[] = [];
  private nextLine = 0;
  private held = 0;
  /** Bytes of the batches taken since the last object was sealed: what the open object holds. */
  private openBytes = 0;
  private confirmedThrough = -1;
  /** Objects being put, or waiting to be tried again. */
  private inFlight = 0;
  private closed = false;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];
  /** When the last batch came (performance.now()): Logpush closes deliveries idle for long. */
  lastAddAt = 0;

  constructor(
    readonly job: JobConfig,
    readonly slot: number,
    private readonly deps: DeliveryDeps,
  ) {
    this.compiled = new CompiledJob(job, {
      onObject: (object) => this.queue(object),
      ...(deps.structures === undefined ? {} : { structures: deps.structures }),
      ...(deps.eventClockOffsetMs === undefined ? {} : { eventClockOffsetMs: deps.eventClockOffsetMs }),
      ...(deps.pool === undefined ? {} : { pool: deps.pool }),
      ...(deps.staggerFirstObject === true ? { firstIntervalFraction: firstIntervalFraction(job.id) } : {}),
      // A destination that can keep an open object's leading lines takes them as the object grows.
      ...(deps.destination.openStaging === undefined ? {} : { stage: (compression) => deps.destination.openStaging!(job.id, compression) }),
    });
  }

  /** Takes one Buftee batch (at `offset`, `bytes` long) of this job; `reader` is reset on it. */
  add(offset: number, bytes: number, reader: BatchReader, now: number): void {
    this.lastAddAt = now;
    this.held += bytes;
    const entry: BatchEntry = { offset, events: reader.count, bytes, firstLine: this.nextLine, lines: 0, lastLine: -1, filtered: 0, sampled: 0, oversized: 0, malformed: 0, failed: 0 };
    this.entries.push(entry);
    const count = reader.count;
    for (let i = 0; i < count; i++) {
      switch (this.compiled.offerFrom(reader, i, this.nextLine, now)) {
        case 'added':
          this.nextLine++;
          entry.lines++;
          break;
        case 'filtered':
          entry.filtered++;
          break;
        case 'sampled':
          entry.sampled++;
          break;
        case 'oversized':
          entry.oversized++;
          break;
        case 'malformed':
          entry.malformed++;
          break;
      }
    }
    entry.lastLine = this.nextLine - 1;
    // After the loop: a batch that sealed an object midway counts toward the next one, whole.
    this.openBytes += bytes;
    this.counts.batches++;
    this.counts.events += count;
    this.complete();
  }

  /** Seals an object whose interval passed. */
  tick(now: number): void {
    this.compiled.tick(now);
  }

  /** Seals the open object (drain, stop, Buftee's pressure); returns whether there was one. */
  flush(): boolean {
    return this.compiled.flush();
  }

  /** The batches taken and not yet complete: their offsets and events. */
  *pendingEntries(): Iterable<{ offset: number; events: number }> {
    for (const e of this.entries) yield { offset: e.offset, events: e.events };
  }

  /** Bytes of the batches taken and not yet acked: what this job holds in Buftee's window. */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * Seals the open object before its own limits when the job holds more than `maxHeldBytes` of
   * unacked batches and the open object itself holds at least half of that, so Buftee can free them
   * once it is put. The second condition keeps a hot job's objects large: while its put is in
   * flight the job holds past the limit anyway, and sealing every batch that came meanwhile as an
   * object of its own (the rule was once the first condition alone) freed nothing sooner, since a
   * job's objects were then put one at a time in order (PUTS_PER_JOB now), but made ~180-event
   * objects, one file each, as fast as the batches came: in bench:pipeline a third of all puts,
   * and the hot job's put rate then capped the whole pipeline's. (Holding off all early seals while
   * a put waited let ~900 sealed objects queue for the disk instead: peak RSS 1.3-1.4 GB, p99
   * 10-11 s; see the README.)
   */
  sealEarly(maxHeldBytes: number): boolean {
    if (this.held <= maxHeldBytes || this.openBytes < maxHeldBytes / 2) return false;
    return this.compiled.flush();
  }

  /** Batches taken and not yet complete. */
  get pendingBatches(): number {
    return this.entries.length;
  }

  /** Resolves once every batch taken so far is complete (after a flush). */
  whenIdle(): Promise<void> {
    if (this.entries.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    // Objects not put (a stop before they were): their events were not acked, and Buftee sends
    // them again to whoever comes next; what was staged for them is litter now.
    this.compiled.discard();
    this.discardQueued();
    await this.deps.destination.close();
  }

  private queue(object: UploadObject): void {
    this.openBytes = 0;
    this.objects.push({ object, body: object, state: 'queued', failed: false });
    this.counts.objects++;
    this.pump();
  }

  /**
   * After close: the objects not put by now will never be (queued, or waiting to be tried again),
   * and their staged parts are removed. They leave the list with every object after them: a
   * confirmation acks every line up to the object's last, so none after a dropped one may be
   * confirmed. Those being put finish unconfirmed, and those put already stay stored (Buftee sends
   * their events again: at-least-once); the ones before the first dropped are confirmed as their
   * puts end.
   */
  private discardQueued(): void {
    const cut = this.objects.findIndex((sealed) => sealed.state === 'queued' || sealed.state === 'retry');
    if (cut < 0) return;
    for (const sealed of this.objects.splice(cut)) {
      if (sealed.state === 'retry') this.inFlight--;
      if (sealed.state === 'queued' || sealed.state === 'retry') sealed.body.staged?.discard();
    }
  }

  /** Starts the next objects' puts, in order, while fewer than PUTS_PER_JOB are in flight. */
  private pump(): void {
    if (this.closed) return this.discardQueued();
    for (let i = 0; i < this.objects.length && this.inFlight < PUTS_PER_JOB; i++) {
      const sealed = this.objects[i]!;
      if (sealed.state !== 'queued') continue;
      sealed.state = 'putting';
      this.inFlight++;
      void this.put(sealed);
    }
  }

  private async put(sealed: Sealed): Promise<void> {
    const release = this.deps.slots === undefined ? null : await this.deps.slots.acquire(this.held > (this.deps.urgentHeldBytes ?? Number.POSITIVE_INFINITY));
    const { object } = sealed;
    try {
      if (sealed.body.compression !== this.compiled.compression) {
        sealed.body = await compressObject(object, this.compiled.compression);
        // A retry puts these same bytes; the lines' buffer is done with.
        this.deps.pool?.give(object.body);
      }
      await this.deps.destination.put(sealed.body);
      this.putDone(sealed.body);
      release?.();
      this.counts.delivered += object.records;
    } catch (error) {
      release?.();
      const retryable = !isLogpushError(error) || error.retryable;
      this.deps.onError(this.job.id, error, retryable && !this.closed);
      if (retryable) {
        this.counts.retries++;
        if (this.closed) {
          // Never put now (close() came while it was in flight): dropped, and every object after it.
          sealed.state = 'queued';
          this.inFlight--;
          this.discardQueued();
          return;
        }
        // Tried again after the pause; it holds its place among the puts in flight meanwhile.
        sealed.state = 'retry';
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          sealed.state = 'putting';
          void this.put(sealed);
        }, this.deps.retryDelayMs ?? 2000);
        this.retryTimers.add(timer);
        return;
      }
      this.putDone(sealed.body);
      sealed.body.staged?.discard();
      this.counts.failedObjects++;
      sealed.failed = true;
    }
    sealed.state = 'done';
    this.inFlight--;
    // Confirmed in order: an object put before the one ahead of it waits for that one.
    while (this.objects.length > 0 && this.objects[0]!.state === 'done') {
      const done = this.objects.shift()!;
      this.confirm(done.object, done.failed);
    }
    this.pump();
  }

  /** A put of `body` settled for good: its buffer goes back to the pool if the destination is done with it and it is the pool's (the lines' buffer; a gzip result is zlib's). */
  private putDone(body: UploadObject): void {
    if (this.deps.destination.releasesBody === true && body.compression === 'none') this.deps.pool?.give(body.body);
  }

  private confirm(object: UploadObject, failed: boolean): void {
    if (failed) {
      for (const e of this.entries) {
        const from = Math.max(e.firstLine, object.firstLedgerId);
        const to = Math.min(e.firstLine + e.lines - 1, object.lastLedgerId);
        if (to >= from) e.failed += to - from + 1;
      }
    }
    this.confirmedThrough = object.lastLedgerId;
    this.complete();
  }

  private complete(): void {
    const { ledger } = this.deps;
    const slot = this.slot;
    let last = -1;
    let delivered = 0;
    let failed = 0;
    while (this.entries.length > 0 && this.entries[0]!.lastLine <= this.confirmedThrough) {
      const e = this.entries.shift()!;
      this.held -= e.bytes;
      const ok = e.lines - e.failed;
      if (ok > 0) ledger.deliver(slot, ok);
      if (e.failed > 0) ledger.drop(slot, 'destination_failed', e.failed);
      if (e.filtered > 0) ledger.drop(slot, 'filtered', e.filtered);
      if (e.sampled > 0) ledger.drop(slot, 'sampled', e.sampled);
      if (e.oversized > 0) ledger.drop(slot, 'oversized', e.oversized);
      if (e.malformed > 0) ledger.drop(slot, 'malformed', e.malformed);
      delivered += ok;
      failed += e.failed;
      last = e.offset;
      this.deps.completed?.(e.offset, e.events);
    }
    if (last >= 0) this.deps.ack(slot, last, delivered, failed);
    if (this.entries.length === 0 && this.idleWaiters.length > 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}

export { messageOf };
