/**
 * Standard output (or any writable stream): each object's lines, uncompressed, written whole. For
 * trying a pipeline out and for piping into another tool. Objects come out in the order they were
 * put, never interleaved: each is one write, and each waits for the one before. A CSV job repeats
 * its header with each object, as each object is a whole CSV file.
 */

import type { Writable } from 'node:stream';
import { LogpushError, destinationClosedError, messageOf, stagedElsewhereError } from '../errors.js';
import { uncompressedBody, type UploadObject } from '../upload-object.js';
import type { Destination } from './destination.js';

export interface StdoutOptions {
  /** Default process.stdout. */
  readonly stream?: Writable;
  /** End the stream on close. Default false: process.stdout outlives the destination. */
  readonly end?: boolean;
}

export class StdoutDestination implements Destination {
  private readonly stream: Writable;
  private readonly end: boolean;
  private closed = false;
  /** The stream's error, once it has failed: later puts reject with it at once. */
  private failure: Error | undefined;
  /** The previous put, so the next one writes after it. */
  private tail: Promise<unknown> = Promise.resolve();
  /**
   * A listener for the destination's lifetime: a stream emits 'error' after the failed write's
   * callback (EPIPE when the reader went away), and without a listener that event would crash the
   * worker instead of failing the put.
   */
  private readonly onError = (error: Error): void => {
    this.failure ??= error;
  };

  constructor(options: StdoutOptions = {}) {
    this.stream = options.stream ?? process.stdout;
    this.end = options.end ?? false;
    this.stream.on('error', this.onError);
  }

  put(object: UploadObject): Promise<void> {
    const what = `object ${object.seq} of job "${object.jobId}" to stdout`;
    if (this.closed) return Promise.reject(destinationClosedError(what));
    if (object.staged !== undefined) return Promise.reject(stagedElsewhereError(what));
    // Gunzipped while the previous put writes; handled here so a corrupt body that fails before
    // its turn is not an unhandled rejection (the put below still rejects with it).
    const body = uncompressedBody(object);
    body.catch(() => undefined);
    const done = this.tail.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      await write(this.stream, await body);
    });
    this.tail = done.catch(() => undefined);
    return done.catch((error: unknown) => {
      throw new LogpushError('ERR_DESTINATION_UNAVAILABLE', `${what}: ${messageOf(error)}`, { retryable: true, cause: error });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    if (this.end) await new Promise<void>((resolve) => this.stream.end(resolve));
    this.stream.off('error', this.onError);
  }
}

/** Resolves when the stream has taken the bytes (its write callback), rejects with its error. */
function write(stream: Writable, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(bytes, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}
