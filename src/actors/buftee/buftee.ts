/**
 * Buftee's in-process core: one named buffer per job, grouped in prefixes, several consumers per
 * buffer (the tee), several resolutions, and the seatbelts that the incident of 2024-11-14 lacked:
 * max buffers (in all and per prefix), max bytes (per buffer and in all), max new buffers per
 * second and idle eviction, all finite by default (limits.ts). One thread, no I/O, time from an
 * injected clock; the Buftee actor wraps it.
 *
 * Cost: every operation is O(1) in the number of buffers. The counts behind the limits (buffers in
 * all and per prefix, bytes, the token bucket) are kept up to date, never summed; `pressure()` and
 * `stats()` read them. Idle eviction walks `idle`, a Map whose insertion order is the order of last
 * touch (a touch deletes and re-inserts the entry), so it stops at the first buffer still fresh:
 * O(evicted). Only buffers idle eviction may take (nothing unacked, or no consumer) are in `idle`,
 * so a stuck consumer's buffer is never walked over. Per buffer, work is O(batches freed or
 * handed out) plus O(consumers), at most maxConsumersPerBuffer.
 *
 * Nothing is dropped silently: every refusal returns its reason (a DropReason) and the events it
 * carried; drop_oldest, expiry and deletion return what they dropped. The caller counts them in
 * the ledger.
 */

import { NAME_PATTERN } from '../job.js';
import { BufferPool } from '../../runtime/buffer-pool.js';
import { chargeOf, JobBuffer, type DroppedBatches } from './buffer.js';
import { countError, notSubscribedError, prefixMismatchError, tooManyConsumersError, tooManySubscribedJobsError } from './errors.js';
import {
  checkName,
  checkPolicy,
  level,
  resolveOptions,
  worst,
  type BufteeOptions,
  type LimitName,
  type Limits,
  type OverflowPolicy,
  type Pressure,
  type ResolvedOptions,
} from './limits.js';
import { resolutionOf, strideOf, type Resolution } from './resolutions.js';
import type {
  AppendResult,
  BufferInfo,
  BufteeStats,
  Eviction,
  JobPolicy,
  ReadResult,
  RefusalReason,
  RemovedBuffer,
  Tally,
} from './results.js';
import { TokenBucket } from './token-bucket.js';

/** A job's consumers and their strides; shared between jobs, so never changed once made. */
type ConsumerSet = ReadonlyMap<string, number>;
/** Distinct consumer sets kept for sharing; past it a set is a job's own. */
const MAX_SHARED_SETS = 1024;

export class Buftee {
  readonly limits: Readonly<Limits>;
  /** Limits turned off through `unsafe`, one line each: log them at start. */
  readonly warnings: readonly string[];
  private readonly options: ResolvedOptions;
  private readonly buffers = new Map<string, JobBuffer>();
  /** Evictable buffers, least recently touched first. */
  private readonly idle = new Map<string, JobBuffer>();
  private readonly prefixes = new Map<string, number>();
  /** job → consumer → stride; outlives buffers, so a recreated buffer gets its consumers back. */
  private readonly subscriptions = new Map<string, ConsumerSet>();
  /** Consumer sets shared by the jobs subscribed alike, by their contents (at most MAX_SHARED_SETS). */
  private readonly sets = new Map<string, ConsumerSet>();
  private configured = new Map<string, OverflowPolicy>();
  private readonly bucket: TokenBucket;
  /** Where batches' copies live (runtime/buffer-pool.ts): a batch's data is valid until it is acked or dropped. */
  private readonly pool = new BufferPool();
  private lastNow: number;
  /** When the creation rate last refused a buffer: for a second after, pressure is at least soft. */
  private rateRefusedAt = -Infinity;
  private incarnations = 0;
  private readonly totals = { bytes: 0, events: 0, batches: 0 };
  /** Prefixes at each level of maxBuffersPerPrefix, kept as their counts change. */
  private readonly prefixLevels = { soft: 0, hard: 0 };
  private readonly counters = {
    refused: { buffer_limit: tally(), buffer_full: tally(), oversized: tally(), malformed: tally() },
    blocked: tally(),
    droppedOldest: tally(),
    expired: { buffers: 0, ...tally() },
    deleted: { buffers: 0, ...tally() },
    created: 0,
    evicted: 0,
    work: 0,
  };

  constructor(options: BufteeOptions = {}) {
    this.options = resolveOptions(options);
    this.limits = this.options.limits;
    this.warnings = this.options.warnings;
    this.lastNow = this.options.clock();
    this.bucket = new TokenBucket(this.limits.maxNewBuffersPerSecond, this.lastNow);
  }

  /** The configured jobs, replacing the previous set: near a limit, only these get new buffers. */
  configure(jobs: Iterable<JobPolicy>): void {
    const next = new Map<string, OverflowPolicy>();
    let i = 0;
    for (const job of jobs) {
      checkName(`jobs[${i}].id`, job.id);
      next.set(job.id, checkPolicy(`jobs[${i}].overflow`, job.overflow ?? this.options.defaultOverflow));
      i++;
    }
    this.configured = next;
  }

  /** Adds one job to the configured set (or changes its policy): jobs admitted as their first batch comes. */
  admit(job: JobPolicy): void {
    checkName('job id', job.id);
    this.configured.set(job.id, checkPolicy('overflow', job.overflow ?? this.options.defaultOverflow));
  }

  /** Takes one job out of the configured set. */
  forget(job: string): void {
    this.configured.delete(job);
  }

  /**
   * Registers a consumer of a job's buffer at a resolution (configuration: it outlives the buffer).
   * A new consumer starts at the oldest batch held; a changed resolution rewinds to the first
   * unacked batch. Throws ERR_BUFTEE_CONSUMER past maxConsumersPerBuffer, or past maxBuffers jobs.
   */
  subscribe(job: string, consumer: string, resolution: Resolution = 'full'): void {
    checkName('job id', job);
    checkName('consumer id', consumer);
    const every = strideOf(resolution);
    const consumers = this.subscriptions.get(job);
    if (consumers === undefined && this.subscriptions.size >= this.limits.maxBuffers) throw tooManySubscribedJobsError(job, this.limits.maxBuffers);
    if (consumers !== undefined && !consumers.has(consumer) && consumers.size >= this.options.maxConsumersPerBuffer) {
      throw tooManyConsumersError(job, this.options.maxConsumersPerBuffer);
    }
    if (consumers?.get(consumer) !== every) {
      const next = new Map(consumers);
      next.set(consumer, every);
      this.subscriptions.set(job, this.shared(next));
    }
    const buffer = this.buffers.get(job);
    if (buffer === undefined) return;
    const before = this.before(buffer);
    buffer.subscribe(consumer, every);
    this.settle(buffer, before);
    this.touch(buffer, this.now());
  }

  /** Removes a consumer; what only it still needed is freed. Unknown pairs are ignored. */
  unsubscribe(job: string, consumer: string): void {
    const consumers = this.subscriptions.get(job);
    if (consumers === undefined || !consumers.has(consumer)) return;
    if (consumers.size === 1) this.subscriptions.delete(job);
    else {
      const next = new Map(consumers);
      next.delete(consumer);
      this.subscriptions.set(job, this.shared(next));
    }
    const buffer = this.buffers.get(job);
    if (buffer === undefined) return;
    const before = this.before(buffer);
    buffer.removeConsumer(consumer);
    this.settle(buffer, before);
    this.touch(buffer, this.now());
  }

  /**
   * Offers a batch (copied; `events` is its event count) to the job's buffer, creating the buffer
   * in `prefix` on first use. A new buffer is refused (`buffer_limit`) when it would take a limit
   * past its soft level for a job outside the configured set, or past the limit itself for any
   * job. A batch that does not fit its buffer's budget or the total meets the job's overflow policy.
   */
  append(prefix: string, job: string, data: Uint8Array, events: number): AppendResult {
    if (!(Number.isSafeInteger(events) && events >= 0)) throw countError('events', events);
    if (!NAME_PATTERN.test(job) || !NAME_PATTERN.test(prefix)) return this.refuse('malformed', events, null);
    const charge = chargeOf(data.byteLength);
    const { maxBytesPerBuffer, maxTotalBytes } = this.limits;
    if (charge > maxBytesPerBuffer) return this.refuse('oversized', events, 'maxBytesPerBuffer');
    const now = this.now();
    const configured = this.configured.get(job);
    const policy = configured ?? this.options.unconfiguredOverflow;
    let buffer = this.buffers.get(job);
    const created = buffer === undefined;
    if (buffer === undefined) {
      const limit = this.creationLimit(prefix, configured !== undefined, charge, now);
      if (limit !== null) return this.overflow(policy, 'buffer_limit', events, limit);
      buffer = this.create(prefix, job, now);
    } else if (buffer.prefix !== prefix) {
      throw prefixMismatchError(job, buffer.prefix, prefix);
    }
    const before = this.before(buffer);
    let dropped: DroppedBatches | null = null;
    const overBuffer = buffer.bytes + charge - maxBytesPerBuffer;
    // Jobs outside the configured set may fill the total only to its soft level, like new buffers:
    // the rest is the configured jobs' room.
    const overTotal = this.totals.bytes + charge - maxTotalBytes * (configured === undefined ? this.options.softLevel : 1);
    if (overBuffer > 0 || overTotal > 0) {
      const limit: LimitName = overBuffer > 0 ? 'maxBytesPerBuffer' : 'maxTotalBytes';
      const need = Math.max(overBuffer, overTotal);
      // drop_oldest frees only its own job's batches: another job's data is never its room.
      if (policy !== 'drop_oldest' || buffer.bytes < need) {
        return this.overflow(policy === 'block' ? 'block' : 'drop_newest', 'buffer_full', events, limit);
      }
      dropped = buffer.dropOldest(need);
      add(this.counters.droppedOldest, dropped.batches, dropped.events);
    }
    const offset = buffer.append(this.pool.copy(data), events);
    this.settle(buffer, before, 1);
    this.touch(buffer, now);
    return { status: 'appended', offset, created, dropped };
  }

  /**
   * The consumer's next batches (up to maxBatches), left in place until acked. A batch's data is
   * valid until every consumer has acked it or it is dropped: then its memory is reused. Copy it
   * out (as the actor does, into Logpush's ring) before that.
   */
  read(job: string, consumer: string, maxBatches: number): ReadResult {
    if (!(Number.isSafeInteger(maxBatches) && maxBatches > 0)) throw countError('maxBatches', maxBatches);
    const buffer = this.subscribed(job, consumer);
    if (buffer === undefined) return { incarnation: 0, batches: [] };
    const batches = buffer.read(buffer.consumer(consumer)!, maxBatches);
    this.counters.work += batches.length;
    this.touch(buffer, this.now());
    return { incarnation: buffer.incarnation, batches };
  }

  /**
   * Commits the consumer's batches up to and including `offset`; a batch is freed once every
   * consumer has it acked. False when there was nothing to commit, or the offset belongs to an
   * earlier incarnation of the buffer (evicted or deleted since the read).
   */
  ack(job: string, consumer: string, offset: number, incarnation?: number): boolean {
    const buffer = this.subscribed(job, consumer);
    if (buffer === undefined || (incarnation !== undefined && incarnation !== buffer.incarnation)) return false;
    const before = this.before(buffer);
    const advanced = buffer.ack(buffer.consumer(consumer)!, offset);
    this.settle(buffer, before);
    this.touch(buffer, this.now());
    return advanced;
  }

  /** Sets the consumer's read cursor back to its first unacked batch (a failed upload, a restart). */
  rewind(job: string, consumer: string): void {
    const buffer = this.subscribed(job, consumer);
    if (buffer === undefined) return;
    buffer.rewind(buffer.consumer(consumer)!);
    this.touch(buffer, this.now());
  }

  /**
   * Deletes a job's buffer and every batch in it (the job's data, deleted on request). Returns what
   * was dropped, or null when the job has no buffer. Subscriptions stay: they are configuration.
   */
  delete(job: string): RemovedBuffer | null {
    const buffer = this.buffers.get(job);
    if (buffer === undefined) return null;
    const before = this.before(buffer);
    const dropped = buffer.dropAll();
    this.settle(buffer, before);
    this.remove(buffer);
    const deleted = this.counters.deleted;
    deleted.buffers++;
    add(deleted, dropped.batches, dropped.events);
    return { job, prefix: buffer.prefix, ...dropped };
  }

  /**
   * Removes buffers untouched (no append, read, ack) for idleTtlMs that hold nothing unacked, or
   * that no consumer reads; the latter's batches are returned as expired. At most `max` buffers a
   * call. Call it from a timer: appends never evict, so their cost never depends on it.
   */
  evictIdle(max = Infinity): Eviction {
    const ttl = this.limits.idleTtlMs;
    const now = this.now();
    const expired: RemovedBuffer[] = [];
    const jobs: string[] = [];
    let buffers = 0;
    for (const buffer of this.idle.values()) {
      if (buffers >= max || buffer.touchedAt + ttl > now) break;
      if (buffer.batches > 0) {
        const before = this.before(buffer);
        const dropped = buffer.dropAll();
        this.settle(buffer, before);
        const counter = this.counters.expired;
        counter.buffers++;
        add(counter, dropped.batches, dropped.events);
        expired.push({ job: buffer.job, prefix: buffer.prefix, ...dropped });
      }
      this.remove(buffer);
      jobs.push(buffer.job);
      this.counters.evicted++;
      buffers++;
    }
    this.counters.work += buffers;
    return { buffers, expired, jobs };
  }

  /**
   * The worst level among buffers in all, bytes in all and new buffers per second (and the
   * prefix's buffers, given one): `soft` from softLevel of a limit, `hard` at it; and at least
   * `soft` for a second after the rate refused a new buffer. O(1).
   */
  pressure(prefix?: string): Pressure {
    const { softLevel } = this.options;
    const { maxBuffers, maxTotalBytes, maxBuffersPerPrefix } = this.limits;
    let pressure = worst(level(this.buffers.size, maxBuffers, softLevel), level(this.totals.bytes, maxTotalBytes, softLevel));
    // An empty bucket (less than one token) is the rate limit's hard level.
    const now = this.now();
    const used = this.bucket.available(now) < 1 ? this.bucket.capacity : this.bucket.used(now);
    pressure = worst(pressure, level(used, this.bucket.capacity, softLevel));
    // The rate refusing buffers within the last second is soft pressure, even as the bucket refills.
    if (now - this.rateRefusedAt < 1000) pressure = worst(pressure, 'soft');
    if (prefix !== undefined) pressure = worst(pressure, level(this.prefixes.get(prefix) ?? 0, maxBuffersPerPrefix, softLevel));
    return pressure;
  }

  /** Lets go of batch memory the pool kept and nobody needed lately (BufferPool.trim); call every POOL_TRIM_MS. */
  trimPool(): number {
    return this.pool.trim();
  }

  stats(): BufteeStats {
    const c = this.counters;
    return {
      buffers: this.buffers.size,
      prefixes: this.prefixes.size,
      evictable: this.idle.size,
      configuredJobs: this.configured.size,
      subscribedJobs: this.subscriptions.size,
      ...this.totals,
      pressure: this.pressure(),
      prefixesAtSoft: this.prefixLevels.soft,
      prefixesAtHard: this.prefixLevels.hard,
      refused: {
        buffer_limit: { ...c.refused.buffer_limit },
        buffer_full: { ...c.refused.buffer_full },
        oversized: { ...c.refused.oversized },
        malformed: { ...c.refused.malformed },
      },
      blocked: { ...c.blocked },
      droppedOldest: { ...c.droppedOldest },
      expired: { ...c.expired },
      deleted: { ...c.deleted },
      created: c.created,
      evicted: c.evicted,
      work: c.work,
      pool: { freeBytes: this.pool.freeBytes, freeBuffers: this.pool.freeBuffers, reused: this.pool.reused, allocated: this.pool.allocated },
    };
  }

  /** One buffer's state, for metrics and tests; undefined when the job has no buffer. */
  describe(job: string): BufferInfo | undefined {
    const buffer = this.buffers.get(job);
    if (buffer === undefined) return undefined;
    const { prefix, incarnation, batches, events, bytes, firstOffset, nextOffset } = buffer;
    const consumers = buffer.consumers.map(({ id, every, acked, next }) => ({ id, resolution: resolutionOf(every), acked, next }));
    return { prefix, incarnation, batches, events, bytes, firstOffset, nextOffset, consumers };
  }

  /** Buffers held now; O(1). */
  get bufferCount(): number {
    return this.buffers.size;
  }

  /** Bytes charged to every buffer now; O(1). */
  get totalBytes(): number {
    return this.totals.bytes;
  }

  has(job: string): boolean {
    return this.buffers.has(job);
  }

  /** Which limit refuses a new buffer now, or null (and a token is taken). */
  private creationLimit(prefix: string, configured: boolean, charge: number, now: number): LimitName | null {
    const share = configured ? 1 : this.options.softLevel;
    const { maxBuffers, maxBuffersPerPrefix, maxTotalBytes } = this.limits;
    if (this.buffers.size + 1 > maxBuffers * share) return 'maxBuffers';
    if ((this.prefixes.get(prefix) ?? 0) + 1 > maxBuffersPerPrefix * share) return 'maxBuffersPerPrefix';
    if (this.totals.bytes + charge > maxTotalBytes * share) return 'maxTotalBytes';
    const reserve = configured ? 0 : this.bucket.capacity * (1 - this.options.softLevel);
    if (!this.bucket.tryTake(now, reserve)) {
      this.rateRefusedAt = now;
      return 'maxNewBuffersPerSecond';
    }
    return null;
  }

  private create(prefix: string, job: string, now: number): JobBuffer {
    const buffer = new JobBuffer(job, prefix, ++this.incarnations, now, this.pool);
    const consumers = this.subscriptions.get(job);
    if (consumers !== undefined) for (const [id, every] of consumers) buffer.subscribe(id, every);
    this.buffers.set(job, buffer);
    this.countPrefix(prefix, 1);
    this.counters.created++;
    return buffer;
  }

  private remove(buffer: JobBuffer): void {
    this.buffers.delete(buffer.job);
    this.idle.delete(buffer.job);
    this.countPrefix(buffer.prefix, -1);
  }

  private countPrefix(prefix: string, delta: 1 | -1): void {
    const { maxBuffersPerPrefix } = this.limits;
    const { softLevel } = this.options;
    const before = this.prefixes.get(prefix) ?? 0;
    const after = before + delta;
    if (after === 0) this.prefixes.delete(prefix);
    else this.prefixes.set(prefix, after);
    const was = level(before, maxBuffersPerPrefix, softLevel);
    const is = level(after, maxBuffersPerPrefix, softLevel);
    if (was === is) return;
    if (was !== 'ok') this.prefixLevels[was]--;
    if (is !== 'ok') this.prefixLevels[is]++;
  }

  /**
   * The set equal to `set` that other jobs already share, or `set` itself (kept for the next job
   * when fewer than MAX_SHARED_SETS are). Jobs are nearly always subscribed alike (Logpush, full):
   * one Map per job was two of the ~10 objects each of 100,000 jobs kept, and every full GC marks
   * them all (bench:scale's hot set).
   */
  private shared(set: ConsumerSet): ConsumerSet {
    let key = '';
    for (const [id, every] of set) key += `${id}\u0000${every}\u0000`;
    const known = this.sets.get(key);
    if (known !== undefined) return known;
    if (this.sets.size < MAX_SHARED_SETS) this.sets.set(key, set);
    return set;
  }

  private subscribed(job: string, consumer: string): JobBuffer | undefined {
    if (this.subscriptions.get(job)?.has(consumer) !== true) throw notSubscribedError(job, consumer);
    return this.buffers.get(job);
  }

  private touch(buffer: JobBuffer, now: number): void {
    buffer.touchedAt = now;
    this.idle.delete(buffer.job);
    if (buffer.evictable) this.idle.set(buffer.job, buffer);
  }

  private before(buffer: JobBuffer): Snapshot {
    return { bytes: buffer.bytes, events: buffer.events, batches: buffer.batches };
  }

  /** Carries a buffer's change into the totals; `added` batches were appended meanwhile. */
  private settle(buffer: JobBuffer, before: Snapshot, added = 0): void {
    this.totals.bytes += buffer.bytes - before.bytes;
    this.totals.events += buffer.events - before.events;
    this.totals.batches += buffer.batches - before.batches;
    const removed = before.batches + added - buffer.batches;
    this.counters.work += added + removed;
  }

  private overflow(policy: OverflowPolicy, reason: 'buffer_full' | 'buffer_limit', events: number, limit: LimitName): AppendResult {
    if (policy !== 'block') return this.refuse(reason, events, limit);
    add(this.counters.blocked, 1, events);
    return { status: 'full', reason, events, limit };
  }

  private refuse(reason: RefusalReason, events: number, limit: LimitName | null): AppendResult {
    add(this.counters.refused[reason], 1, events);
    return { status: 'refused', reason, events, limit };
  }

  /** The injected clock, held non-decreasing. */
  private now(): number {
    const now = this.options.clock();
    if (now > this.lastNow) this.lastNow = now;
    return this.lastNow;
  }
}

interface Snapshot {
  bytes: number;
  events: number;
  batches: number;
}

function tally(): Tally {
  return { batches: 0, events: 0 };
}

function add(into: Tally, batches: number, events: number): void {
  into.batches += batches;
  into.events += events;
}
