/**
 * An upload object: what Logpush hands a destination in one put, one file in an object store or
 * one HTTP request. It carries the ledger range of its events, so the caller acks exactly those
 * events to Buftee once the destination has confirmed the object.
 */

import { gzip, gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Compression } from '../job.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export const COMPRESSIONS: readonly Compression[] = ['gzip', 'none'];

export interface UploadObject {
  readonly jobId: string;
  /** Per job, counting up from the batcher's firstSeq: makes keys unique and orders objects. */
  readonly seq: number;
  /** Lines (events) in the object; a CSV header is not one. */
  readonly records: number;
  /** Size before compression, newlines and a CSV header included; never above max_upload_bytes. */
  readonly bytes: number;
  /** What is uploaded: the lines, gzipped when `compression` is gzip. */
  readonly body: Uint8Array;
  readonly compression: Compression;
  /** application/x-ndjson or text/csv. */
  readonly contentType: string;
  /**
   * Earliest and latest event timestamps in the object, unix nanoseconds. Min and max, not the
   * first and last line, so an object's key names a range covering all of its events even when
   * they arrive slightly out of order. NaN when no event had a finite timestamp.
   */
  readonly firstTimestamp: number;
  readonly lastTimestamp: number;
  /**
   * Ledger ids (the job's buffer positions) of the first and last event in the object. Events the
   * job filtered or sampled out between them were consumed too: acking through lastLedgerId acks
   * exactly what this object accounts for.
   */
  readonly firstLedgerId: number;
  readonly lastLedgerId: number;
  /**
   * The object's leading lines, already written out by its destination as the object grew
   * (Destination.openStaging): the object is those followed by `body`. Absent, `body` is all of it.
   * `bytes` and `records` count the whole object.
   */
  readonly staged?: StagedPart;
}

/**
 * The leading part of an open object that its destination keeps for it (an object-store temporary
 * file), so a job's object is not held whole in memory until it is sealed: the batcher hands over
 * each full chunk of lines, the destination writes it (gzipped as a member of its own when the job
 * compresses: concatenated gzip members are one gzip file), and put() adds the body after it.
 */
export interface StagedPart {
  /**
   * Takes `chunk` (whole lines) to write after what came before; calls `release` once it reads
   * `chunk` no more (written, or compressed), so its buffer can go back to a pool. Never throws: a
   * failed write is kept and tried again by the put.
   */
  append(chunk: Uint8Array, release: () => void): void;
  /** Gives up the part (its job closed, its object refused for good): its file is removed. */
  discard(): void;
}

/**
 * The object compressed as the job asks. gzip runs on libuv's thread pool, not on the actor's
 * event loop: a 5 MiB object takes tens of milliseconds to compress, long enough to delay the
 * worker's heartbeat and its control messages if done in line.
 */
export async function compressObject(object: UploadObject, compression: Compression, level = 6): Promise<UploadObject> {
  if (compression === object.compression) return object;
  if (object.compression !== 'none') throw new TypeError(`object ${object.seq} of job "${object.jobId}" is already ${object.compression}-compressed`);
  // A staged object's body is its tail: gzipped on its own, it is one more member after the staged ones.
  return { ...object, compression, body: await gzipAsync(object.body, { level }) };
}

/** The object's lines as text bytes, whatever its compression. */
export async function uncompressedBody(object: UploadObject): Promise<Uint8Array> {
  return object.compression === 'gzip' ? gunzipAsync(object.body) : object.body;
}
