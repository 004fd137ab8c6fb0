/**
 * Accumulates one job's formatted lines into upload objects of predictable size: an object is
 * sealed when the next line would take it past max_upload_bytes, when it holds max_upload_records
 * lines, or when max_upload_interval_seconds have passed since its first line (or, with an event
 * clock, since its oldest event's time: see eventClockOffsetMs). Pure: the time is
 * passed in (`now`, milliseconds on any monotonic clock), no timers, no I/O; the caller ticks it.
 *
 * Memory: at most one open object, written into a single buffer that grows by doubling up to
 * max_upload_bytes and is handed over whole when the object is sealed (with a pool, whoever is done
 * with the body gives it back); an idle job holds none. With `stage` (a destination that can keep
 * an object's leading lines, the object store), the buffer grows only to `spillBytes`: once full,
 * its lines go to the staged part (written out while the object stays open) and a new buffer takes
 * the next ones, so a job holds at most about `spillBytes` of its open object, however large.
 *
 * A line that cannot fit even in an empty object is refused ('oversized'), never uploaded alone
 * past the limit: the limit is what the destination was promised (an HTTP endpoint may enforce
 * its body size), and the ledger has a reason for exactly this event, `oversized`.
 *
 * Objects come out through `onObject`, synchronously, uncompressed; compressObject gzips them.
 */

import type { JobConfig } from '../job.js';
import { configError, configProblem } from './errors.js';
import type { StagedPart, UploadObject } from './upload-object.js';
import type { BufferPool } from '../../runtime/buffer-pool.js';

export const DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
export const DEFAULT_MAX_UPLOAD_RECORDS = 100_000;
export const DEFAULT_MAX_UPLOAD_INTERVAL_SECONDS = 30;
/**
 * Cloudflare's own upper bounds (1 GB per object, a million records, five minutes), which Logfwdr's
 * config schema applies too. A job's open object is held in memory, but its buffer grows only as
 * lines arrive and lives outside the V8 heap: a job with a large limit costs memory only while it
 * has that much traffic within its interval.
 */
export const MAX_UPLOAD_BYTES = 1_000_000_000;
export const MAX_UPLOAD_RECORDS = 1_000_000;
export const MAX_UPLOAD_INTERVAL_SECONDS = 300;

/**
 * The first buffer a job's first object gets; it doubles from here, and later objects start at
 * about the size of the one before. 1 KiB (from the Logpush's BufferPool, or without one from
 * Node's shared 8 KiB slabs): with 100,000 jobs each sealing a one-line object at once, 64 KiB each
 * was 6 GiB of buffers, and 4 KiB each ~400 MB waiting for their puts.
 */
const INITIAL_CAPACITY = 1024;
/**
 * The most of an open object a job holds in memory when its destination stages (see `stage`).
 * 128 KiB: a few hundred lines per write, ~450 writes a second at 60 MB/s of lines; 1,000 busy
 * jobs hold at most 128 MiB, where whole objects held ~190 MiB at bench:pipeline's peak.
 */
export const DEFAULT_SPILL_BYTES = 128 * 1024;
const MIN_SPILL_BYTES = 16;
const MAX_SPILL_BYTES = 64 * 1024 * 1024;
const NEWLINE = 0x0a;

export interface UploadLimits {
  readonly maxBytes: number;
  readonly maxRecords: number;
  readonly maxIntervalMs: number;
}

/**
 * The job's upload limits with defaults filled in. Throws ERR_LOGPUSH_CONFIG naming the path and
 * the value. Cloudflare reads 0 as "no limit"; here every limit is finite, so 0 is refused.
 */
export function resolveUploadLimits(
  job: Pick<JobConfig, 'max_upload_bytes' | 'max_upload_records' | 'max_upload_interval_seconds'>,
  path = 'job',
): UploadLimits {
  const maxBytes = integerIn(job.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES, 1, MAX_UPLOAD_BYTES, `${path}.max_upload_bytes`);
  const maxRecords = integerIn(job.max_upload_records, DEFAULT_MAX_UPLOAD_RECORDS, 1, MAX_UPLOAD_RECORDS, `${path}.max_upload_records`);
  const seconds: unknown = job.max_upload_interval_seconds ?? DEFAULT_MAX_UPLOAD_INTERVAL_SECONDS;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_UPLOAD_INTERVAL_SECONDS) {
    throw configError(`${path}.max_upload_interval_seconds`, `a number of seconds above 0 and at most ${MAX_UPLOAD_INTERVAL_SECONDS}`, seconds);
  }
  return { maxBytes, maxRecords, maxIntervalMs: seconds * 1000 };
}

function integerIn(input: unknown, fallback: number, min: number, max: number, path: string): number {
  const value = input ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const zero = value === 0 ? ' (0, "no limit" in Cloudflare, is not allowed: every limit is finite)' : '';
    throw configError(path, `an integer from ${min} to ${max}${zero}`, value);
  }
  return value;
}

export interface UploadBatcherOptions {
  readonly jobId: string;
  readonly limits: UploadLimits;
  /** Content type of the lines (Formatter.contentType), carried on each object. */
  readonly contentType: string;
  /** A CSV header line (without newline) starting every object, so each object is a whole CSV file. */
  readonly header?: string | null;
  /** The seq of the first object; a restarted job passes on from where it was, so keys stay unique. */
  readonly firstSeq?: number;
  /** Receives each sealed object, synchronously, in seq order. */
  readonly onObject: (object: UploadObject) => void;
  /**
   * Seals by event time too: what to add to a unix time in ms to get the clock of `now` (for
   * performance.now(), `-performance.timeOrigin`). An object is then due `maxIntervalMs` after the
   * time of its oldest event, if that comes before `maxIntervalMs` after it opened, but never
   * sooner than a quarter of `maxIntervalMs` after it opened. Events that waited in the pipeline's
   * queues before they got here are then written within the interval of their time, not of their
   * arrival; old events (a backfill) make objects of at least a quarter interval each. Without it,
   * objects are due by arrival alone.
   */
  readonly eventClockOffsetMs?: number;
  /**
   * The first object is due after this fraction of `maxIntervalMs` (0.25 to 1; default 1), each one
   * after it after the whole interval. Jobs that start together and keep the same interval would
   * otherwise seal together for good: every interval, all their objects at once, each holding a
   * whole interval of events. With the first intervals spread over 0.25-1, the seals and puts are
   * spread out and the jobs hold about half as much at the peak.
   */
  readonly firstIntervalFraction?: number;
  /**
   * Where objects' buffers come from (runtime/buffer-pool.ts), shared by a Logpush's jobs; whoever
   * is done with a sealed object's body gives it back. Without one, each buffer is allocated.
   */
  readonly pool?: BufferPool;
  /**
   * Opens a staged part for the open object (Destination.openStaging): the object's lines go there
   * `spillBytes` at a time as it grows, and the sealed object carries it (UploadObject.staged)
   * with only the lines since the last chunk as its body. Without it, objects are held whole.
   */
  readonly stage?: () => StagedPart;
  /** With `stage`: the lines held in memory before they go to the staged part. Default DEFAULT_SPILL_BYTES (16 bytes to 64 MiB). */
  readonly spillBytes?: number;
}

export type AddResult = 'added' | 'oversized';

export class UploadBatcher {
  readonly jobId: string;
  readonly limits: UploadLimits;
  /** The largest line (in UTF-8 bytes, without its newline) an object has room for. */
  readonly maxLineBytes: number;
  private readonly contentType: string;
  private readonly header: Buffer | null;
  private readonly onObject: (object: UploadObject) => void;
  private seq: number;
  /** The open object's bytes; null while no object is open. */
  private buffer: Buffer | null = null;
  private used = 0;
  private records = 0;
  /** Bytes of the last object sealed: the next one's buffer starts at about that size. */
  private lastObjectBytes = 0;
  private openedAt = 0;
  /** When the open object is due, in `now`'s clock. */
  private dueAt = 0;
  private readonly eventClockOffsetMs: number | undefined;
  /** The fraction of the interval the next object opened gets: firstIntervalFraction, then 1. */
  private intervalFraction: number;
  private readonly pool: BufferPool | null;
  private firstTimestamp = Number.NaN;
  private lastTimestamp = Number.NaN;
  private firstLedgerId = 0;
  private lastLedgerId = 0;
  private readonly stage: (() => StagedPart) | null;
  private readonly spillBytes: number;
  /** The open object's staged part, once its first chunk went out; `spilled` bytes of lines are there. */
  private staged: StagedPart | null = null;
  private spilled = 0;

  constructor(options: UploadBatcherOptions) {
    // Limits normally come from resolveUploadLimits; checked again because an object past them
    // breaks what the destination was promised.
    resolveUploadLimits({
      max_upload_bytes: options.limits.maxBytes,
      max_upload_records: options.limits.maxRecords,
      max_upload_interval_seconds: options.limits.maxIntervalMs / 1000,
    });
    const limits = { ...options.limits };
    this.jobId = options.jobId;
    this.limits = Object.freeze(limits);
    this.contentType = options.contentType;
    this.onObject = options.onObject;
    this.eventClockOffsetMs = options.eventClockOffsetMs;
    this.intervalFraction = options.firstIntervalFraction ?? 1;
    if (!(this.intervalFraction >= 0.25 && this.intervalFraction <= 1)) throw configError('firstIntervalFraction', 'a number from 0.25 to 1', options.firstIntervalFraction);
    this.pool = options.pool ?? null;
    this.stage = options.stage ?? null;
    this.spillBytes = options.spillBytes ?? DEFAULT_SPILL_BYTES;
    if (!Number.isInteger(this.spillBytes) || this.spillBytes < MIN_SPILL_BYTES || this.spillBytes > MAX_SPILL_BYTES) {
      throw configError('spillBytes', `an integer from ${MIN_SPILL_BYTES} to ${MAX_SPILL_BYTES}`, options.spillBytes);
    }
    if (this.eventClockOffsetMs !== undefined && !Number.isFinite(this.eventClockOffsetMs)) throw configError('eventClockOffsetMs', 'a finite number of ms', this.eventClockOffsetMs);
    this.header = options.header == null ? null : Buffer.from(`${options.header}\n`, 'utf8');
    const headerBytes = this.header?.length ?? 0;
    this.maxLineBytes = limits.maxBytes - headerBytes - 1;
    if (this.maxLineBytes < 0) {
      throw configProblem('max_upload_bytes', `of ${limits.maxBytes} leaves no room for a line after the ${headerBytes}-byte CSV header`);
    }
    this.seq = options.firstSeq ?? 0;
    if (!Number.isSafeInteger(this.seq) || this.seq < 0) throw configError('firstSeq', 'a non-negative safe integer', options.firstSeq);
  }

  /** Lines in the open object. */
  get openRecords(): number {
    return this.records;
  }

  /** Bytes of the open object so far (header and staged lines included). */
  get openBytes(): number {
    return this.buffer === null ? 0 : this.spilled + this.used;
  }

  /** Bytes of the open object held in memory (openBytes less what went to its staged part). */
  get heldBytes(): number {
    return this.buffer === null ? 0 : this.used;
  }

  /** When the open object is due (in `now`'s clock), or undefined when none is open: when to tick next. */
  get deadline(): number | undefined {
    return this.buffer === null ? undefined : this.dueAt;
  }

  /** The seq the next sealed object will get. */
  get nextSeq(): number {
    return this.seq;
  }

  /**
   * Adds one formatted line (without its newline) of the event with `ledgerId` and `timestampNs`
   * (unix nanoseconds). May seal the open object first (interval passed, or no room for the line)
   * and the new one after (full). 'oversized': the line can never fit; nothing changed, and the
   * caller records the event under the ledger's `oversized` reason.
   */
  add(line: string, timestampNs: number, ledgerId: number, now: number): AddResult {
    const lineBytes = Buffer.byteLength(line, 'utf8');
    if (lineBytes > this.maxLineBytes) return 'oversized';
    const buffer = this.beginLine(lineBytes, ledgerId, now);
    buffer.write(line, this.used, lineBytes, 'utf8');
    this.endLine(lineBytes, timestampNs, ledgerId);
    return 'added';
  }

  /**
   * The open object's buffer with room for a line of `lineBytes` (at most maxLineBytes) and its
   * newline at `lineOffset`, sealing the open object first when its interval passed or the line
   * does not fit. The caller writes the line there and calls `endLine`.
   */
  beginLine(lineBytes: number, ledgerId: number, now: number): Buffer {
    if (this.buffer !== null && (now >= this.dueAt || this.spilled + this.used + lineBytes + 1 > this.limits.maxBytes)) this.seal();
    return this.reserve(lineBytes + 1, now, ledgerId);
  }

  /** Where `beginLine`'s line goes in its buffer. */
  get lineOffset(): number {
    return this.used;
  }

  /** Ends the line `beginLine` made room for, once it is written. */
  endLine(lineBytes: number, timestampNs: number, ledgerId: number): void {
    const { maxBytes, maxRecords } = this.limits;
    this.used += lineBytes;
    this.buffer![this.used++] = NEWLINE;
    this.records++;
    this.lastLedgerId = ledgerId;
    // NaN fails both comparisons, so a missing timestamp never becomes the min or max.
    if (Number.isFinite(timestampNs)) {
      if (!(timestampNs >= this.firstTimestamp)) {
        this.firstTimestamp = timestampNs;
        if (this.eventClockOffsetMs !== undefined) this.dueByEventTime(timestampNs);
      }
      if (!(timestampNs <= this.lastTimestamp)) this.lastTimestamp = timestampNs;
    }
    // Sealed as soon as it is full, so a full object never waits for the next line or tick.
    if (this.records >= maxRecords || this.spilled + this.used >= maxBytes) this.seal();
  }

  /**
   * Drops the line `beginLine` made room for, unwritten: an object that line opened is closed
   * again (no empty object is ever sealed), its buffer back in the pool.
   */
  abandonLine(): void {
    if (this.buffer === null || this.records > 0) return;
    // Never handed out: nobody else holds it.
    this.pool?.give(this.buffer);
    this.buffer = null;
    this.used = 0;
  }

  /** Brings the open object's due time forward to its oldest event's time plus the interval (see eventClockOffsetMs). */
  private dueByEventTime(timestampNs: number): void {
    const interval = this.limits.maxIntervalMs;
    const byEvent = Math.max(this.openedAt + interval / 4, timestampNs / 1e6 + this.eventClockOffsetMs! + interval);
    if (byEvent < this.dueAt) this.dueAt = byEvent;
  }

  /** Seals the open object if its interval has passed. Returns whether it did. */
  tick(now: number): boolean {
    if (this.buffer === null || now < this.dueAt) return false;
    this.seal();
    return true;
  }

  /** Seals the open object now (drain, stop, reconfigure). Returns whether there was one. */
  flush(): boolean {
    if (this.buffer === null) return false;
    this.seal();
    return true;
  }

  /** Drops the open object, unsealed (its job is closing; its events come again from Buftee): its buffer back to the pool, its staged part removed. */
  discard(): void {
    this.staged?.discard();
    this.staged = null;
    this.spilled = 0;
    if (this.buffer === null) return;
    this.pool?.give(this.buffer);
    this.buffer = null;
    this.used = 0;
    this.records = 0;
  }

  /** The open object's buffer with room for `bytes` more, opening an object when none is. */
  private reserve(bytes: number, now: number, ledgerId: number): Buffer {
    let buffer = this.buffer;
    if (buffer === null) {
      const headerBytes = this.header?.length ?? 0;
      // Sized for what the last object took (an eighth more, in 4 KiB steps): a job's objects are
      // alike, and growing every object by doubling from INITIAL_CAPACITY copied a ~70 kB object
      // ~5 times (~9% of Logpush's time in bench:pipeline --quick, from 4 KiB).
      const expected = this.lastObjectBytes === 0 ? 0 : Math.ceil((this.lastObjectBytes * 1.125) / 4096) * 4096;
      // Staging, the buffer never grows past the spill size (unless one line needs more).
      const wanted = this.stage === null ? Math.max(INITIAL_CAPACITY, expected) : Math.min(Math.max(INITIAL_CAPACITY, expected), this.spillBytes);
      buffer = this.allocate(Math.min(this.limits.maxBytes, Math.max(headerBytes + bytes, wanted)));
      this.used = this.header === null ? 0 : this.header.copy(buffer, 0);
      this.records = 0;
      this.openedAt = now;
      this.dueAt = now + this.limits.maxIntervalMs * this.intervalFraction;
      this.intervalFraction = 1;
      this.firstTimestamp = Number.NaN;
      this.lastTimestamp = Number.NaN;
      this.firstLedgerId = ledgerId;
      this.buffer = buffer;
    }
    const needed = this.used + bytes;
    if (needed > buffer.length && this.stage !== null && buffer.length >= this.spillBytes && this.records > 0) {
      // Full at the spill size: these lines go out to the staged part, the next into a new buffer.
      this.spill(buffer);
      buffer = this.allocate(Math.min(this.limits.maxBytes, Math.max(this.spillBytes, bytes)));
      this.buffer = buffer;
    } else if (needed > buffer.length) {
      const doubled = this.stage === null ? buffer.length * 2 : Math.min(buffer.length * 2, this.spillBytes);
      const grown = this.allocate(Math.min(this.limits.maxBytes, Math.max(needed, doubled)));
      buffer.copy(grown, 0, 0, this.used);
      // Never handed out: nobody else holds it.
      this.pool?.give(buffer);
      buffer = grown;
      this.buffer = grown;
    }
    return buffer;
  }

  /** Hands the lines in `buffer` to the open object's staged part (opened with the first chunk); the buffer goes back to the pool once written. */
  private spill(buffer: Buffer): void {
    const staged = (this.staged ??= this.stage!());
    const pool = this.pool;
    staged.append(buffer.subarray(0, this.used), pool === null ? noop : () => pool.give(buffer));
    this.spilled += this.used;
    this.used = 0;
  }

  /** A buffer of at least `bytes`: the pool's (its class's size, all of it usable) or a new one. */
  private allocate(bytes: number): Buffer {
    return this.pool === null ? Buffer.allocUnsafe(bytes) : Buffer.from(this.pool.take(bytes));
  }

  private seal(): void {
    const buffer = this.buffer;
    if (buffer === null) return;
    const object: UploadObject = {
      jobId: this.jobId,
      seq: this.seq++,
      records: this.records,
      bytes: this.spilled + this.used,
      body: buffer.subarray(0, this.used),
      compression: 'none',
      contentType: this.contentType,
      firstTimestamp: this.firstTimestamp,
      lastTimestamp: this.lastTimestamp,
      firstLedgerId: this.firstLedgerId,
      lastLedgerId: this.lastLedgerId,
      ...(this.staged === null ? {} : { staged: this.staged }),
    };
    this.lastObjectBytes = this.spilled + this.used;
    this.staged = null;
    this.spilled = 0;
    this.buffer = null;
    this.used = 0;
    this.records = 0;
    this.onObject(object);
  }
}

function noop(): void {}
