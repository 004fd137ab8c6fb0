/**
 * One job's event path, compiled from its config once: filter, then sample, then format, then
 * batch. The Logpush actor decodes each event of a batch and offers it here; what comes back says
 * where the event went, so the actor can keep the ledger (objects come out through onObject, to be
 * compressed and put to the destination).
 *
 * Sampling comes after the filter: sample_rate N keeps 1 in N of the events the filter keeps, so
 * a filter for rare events (errors) is not thinned out by traffic it was going to drop anyway.
 */

import { NAME_PATTERN, type Compression, type JobConfig } from '../job.js';
import { configError, isLogpushError, malformedEventError, messageOf, oversizedLineError, type LogpushError } from './errors.js';
import { compileFilter, type EventPredicate } from './filter.js';
import { compileFormatter, validateOutputOptions, type Formatter } from './format.js';
import { ndjsonTranscoder, type NdjsonTranscoder } from './transcode.js';
import type { BatchReader, CodecStructures } from '../../runtime/codec.js';
import { createSampler, type Sampler } from './sampler.js';
import { UploadBatcher, resolveUploadLimits, type UploadLimits } from './upload-batcher.js';
import { COMPRESSIONS, type StagedPart, type UploadObject } from './upload-object.js';
import type { BufferPool } from '../../runtime/buffer-pool.js';

/**
 * Where an offered event went. `added`: into the open object (in flight until its object is
 * acked). `filtered` / `sampled`: left out as the job asked. `oversized` / `malformed`: refused,
 * with `lastProblem` saying why; ledger reasons `oversized` and `malformed`.
 */
export type OfferOutcome = 'added' | 'filtered' | 'sampled' | 'oversized' | 'malformed';

export interface CompiledJobOptions {
  readonly onObject: (object: UploadObject) => void;
  /**
   * The record structures the job's events are encoded with. Given, an NDJSON job without a
   * filter writes its lines straight from the payload bytes (transcode.ts) in `offerFrom`.
   */
  readonly structures?: CodecStructures;
  /** See UploadBatcherOptions.eventClockOffsetMs: objects due by their oldest event's time too. */
  readonly eventClockOffsetMs?: number;
  /** See UploadBatcherOptions.firstSeq. */
  readonly firstSeq?: number;
  /** See UploadBatcherOptions.pool. */
  readonly pool?: BufferPool;
  /** See UploadBatcherOptions.firstIntervalFraction. */
  readonly firstIntervalFraction?: number;
  /** See UploadBatcherOptions.stage; given the job's compression (Destination.openStaging). */
  readonly stage?: (compression: Compression) => StagedPart;
}

export class CompiledJob {
  readonly id: string;
  readonly compression: Compression;
  readonly limits: UploadLimits;
  readonly formatter: Formatter;
  /** Why the last `oversized` or `malformed` event was refused, for the log line. */
  lastProblem: LogpushError | undefined;
  private readonly filter: EventPredicate;
  private readonly transcoder: NdjsonTranscoder | null;
  private readonly sampler: Sampler;
  private readonly batcher: UploadBatcher;

  /** Throws ERR_LOGPUSH_CONFIG naming the path and value of the first invalid setting. */
  constructor(job: JobConfig, options: CompiledJobOptions) {
    if (typeof job.id !== 'string' || !NAME_PATTERN.test(job.id)) throw configError('id', 'a job id (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)', job.id);
    this.id = job.id;
    const compression: unknown = job.compression ?? 'gzip';
    if (!(COMPRESSIONS as readonly unknown[]).includes(compression)) throw configError('compression', `one of ${COMPRESSIONS.join(', ')}`, compression);
    this.compression = compression as Compression;
    const outputOptions = validateOutputOptions(job.output_options);
    this.filter = compileFilter(job.filter);
    this.sampler = createSampler(outputOptions.sample_rate);
    this.formatter = compileFormatter(outputOptions);
    this.transcoder =
      options.structures !== undefined && job.filter === undefined && outputOptions.output_type === 'ndjson'
        ? ndjsonTranscoder(options.structures, outputOptions.field_names, outputOptions.timestamp_format)
        : null;
    this.limits = resolveUploadLimits(job);
    this.batcher = new UploadBatcher({
      jobId: job.id,
      limits: this.limits,
      contentType: this.formatter.contentType,
      header: this.formatter.header,
      firstSeq: options.firstSeq,
      onObject: options.onObject,
      ...(options.pool === undefined ? {} : { pool: options.pool }),
      ...(options.eventClockOffsetMs === undefined ? {} : { eventClockOffsetMs: options.eventClockOffsetMs }),
      ...(options.firstIntervalFraction === undefined ? {} : { firstIntervalFraction: options.firstIntervalFraction }),
      ...(options.stage === undefined ? {} : { stage: () => options.stage!(this.compression) }),
    });
  }

  /** Offers one decoded event of the job's buffer, with its ledger id and timestamp (unix ns). */
  offer(event: unknown, timestampNs: number, ledgerId: number, now: number): OfferOutcome {
    return this.offerEvent(event, timestampNs, ledgerId, now, false);
  }

  /**
   * Offers event `i` of the batch `reader` is reset on. A job with a transcoder writes its line
   * from the payload's bytes; an event the transcoder leaves (see transcode.ts) and every other
   * job decode it and go the way `offer` does.
   */
  offerFrom(reader: BatchReader, i: number, ledgerId: number, now: number): OfferOutcome {
    const transcoder = this.transcoder;
    const source = transcoder === null ? null : reader.payloadSource();
    if (source === null) return this.offerDecoded(reader, i, ledgerId, now, false);
    // No filter here: sampling is the first step, as in offer().
    if (!this.sampler.keep()) return 'sampled';
    const lineBytes = transcoder!.measure(source, reader.sourceStart(i), reader.sourceEnd(i));
    if (lineBytes < 0) return this.offerDecoded(reader, i, ledgerId, now, true);
    const batcher = this.batcher;
    if (lineBytes > batcher.maxLineBytes) {
      this.lastProblem = oversizedLineError(this.id, lineBytes, batcher.maxLineBytes, this.limits.maxBytes);
      return 'oversized';
    }
    const buffer = batcher.beginLine(lineBytes, ledgerId, now);
    if (transcoder!.write(buffer, batcher.lineOffset) < 0) {
      // A string to escape: the decode path writes this one.
      batcher.abandonLine();
      return this.offerDecoded(reader, i, ledgerId, now, true);
    }
    batcher.endLine(lineBytes, reader.timestamp(i), ledgerId);
    return 'added';
  }

  /** Decodes event `i` and offers it; `kept`: the sampler already kept it (a job without a filter). */
  private offerDecoded(reader: BatchReader, i: number, ledgerId: number, now: number, kept: boolean): OfferOutcome {
    let event: unknown;
    try {
      event = reader.decode(i);
    } catch (error) {
      this.lastProblem = malformedEventError(`job "${this.id}": event ${ledgerId} cannot be decoded: ${messageOf(error)}`, error);
      return 'malformed';
    }
    return this.offerEvent(event, reader.timestamp(i), ledgerId, now, kept);
  }

  /** Filter, sample (unless `kept` says that was done), format. */
  private offerEvent(event: unknown, timestampNs: number, ledgerId: number, now: number, kept: boolean): OfferOutcome {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      this.lastProblem = malformedEventError(`job "${this.id}": event ${ledgerId} is not an object of fields`);
      return 'malformed';
    }
    const fields = event as Record<string, unknown>;
    if (!kept) {
      if (!this.filter(fields)) return 'filtered';
      if (!this.sampler.keep()) return 'sampled';
    }
    return this.write(fields, timestampNs, ledgerId, now);
  }

  /** Formats a kept event into the open object. */
  private write(fields: Record<string, unknown>, timestampNs: number, ledgerId: number, now: number): OfferOutcome {
    let line: string;
    try {
      line = this.formatter.format(fields);
    } catch (error) {
      this.lastProblem = isLogpushError(error) ? error : malformedEventError(`job "${this.id}": ${messageOf(error)}`, error);
      return 'malformed';
    }
    if (this.batcher.add(line, timestampNs, ledgerId, now) === 'oversized') {
      this.lastProblem = oversizedLineError(this.id, Buffer.byteLength(line), this.batcher.maxLineBytes, this.limits.maxBytes);
      return 'oversized';
    }
    return 'added';
  }

  /** Seals the open object if its interval has passed; returns whether it did. */
  tick(now: number): boolean {
    return this.batcher.tick(now);
  }

  /** Seals the open object now; returns whether there was one. */
  flush(): boolean {
    return this.batcher.flush();
  }

  /** Bytes of the open object, and of it in memory (UploadBatcher.openBytes, heldBytes). */
  get openBytes(): number {
    return this.batcher.openBytes;
  }

  get heldBytes(): number {
    return this.batcher.heldBytes;
  }

  /** Drops the open object unsealed (see UploadBatcher.discard). */
  discard(): void {
    this.batcher.discard();
  }

  /** When to tick next, or undefined while no object is open. */
  get deadline(): number | undefined {
    return this.batcher.deadline;
  }

  get nextSeq(): number {
    return this.batcher.nextSeq;
  }
}
