/**
 * An HTTP POST body of events, parsed: NDJSON (`application/x-ndjson`) or msgpack
 * (`application/msgpack`). The HTTP source's shell reads the request (stopping at the size limit,
 * see BodyCollector), calls `parseHttpBody`, answers with `status`, and puts `events` into batches
 * and `dropped` into the ledger.
 *
 * Ledger accounting (every refusal is counted, none throws):
 *   - NDJSON: per line, as ndjson.ts and ingest-event.ts decide (`malformed`, `oversized`,
 *     `unconfigured`); good lines are kept even when others are refused.
 *   - msgpack: either one array of events, or a sequence of event maps back to back (the first byte
 *     decides: an array header means the first form). The body is decoded as a whole: if any of
 *     it is not msgpack (truncated, an unknown extension, bytes after the array, nested too deep),
 *     nothing in it is used and the body counts as one `malformed` entry, since how many events an
 *     undecodable body held is unknowable. Decoded elements are then checked one by one like
 *     NDJSON lines.
 *   - A body over `maxBodyBytes` (default 16 MiB) or holding more than `maxEvents` (default
 *     100,000) is refused whole with 413 and counts as one `oversized` entry.
 *   - A content type that is neither is refused with 415 and counts as one `malformed` entry.
 *
 * Status: 413 and 415 as above; 400 when the body yielded no event and something in it was
 * malformed (nothing usable); else 200, whatever was refused line by line (the counts say it).
 *
 * msgpack is decoded with a plain Unpackr of its own (no records, 64-bit integers as numbers),
 * and the events are encoded into batches by the pipeline codec again, never forwarded as the
 * bytes that came. The codec reads 0x40-0x7f as record ids: the integers 64 to 127, which plain
 * msgpack writes as one byte, would be misread as records (with PIPELINE_STRUCTURES, the bytes of
 * {"ZoneID":64} fail to decode: "Unexpected end of MessagePack data").
 *
 * Memory: the body is held whole (at most maxBodyBytes), and its events until they are batched
 * (at most maxEvents; NDJSON is split in slices, so a body of too many lines is refused as soon as
 * it passes the count, not after all of it was parsed).
 */

import { Unpackr } from 'msgpackr';
import type { DropReason } from '../job.js';
import { describeValue } from '../../runtime/errors.js';
import { optionError } from './errors.js';
import { checkDataset, toEvent, type IngestEvent } from './ingest-event.js';
import { DEFAULT_MAX_LINE_BYTES, NdjsonSplitter, type NdjsonItem } from './ndjson.js';

export const DEFAULT_MAX_BODY_BYTES = 16 << 20;
export const DEFAULT_MAX_BODY_EVENTS = 100_000;
/** Refusal messages kept per body for the response (the counts are complete; messages need not be). */
export const MAX_BODY_MESSAGES = 10;

export type BodyFormat = 'ndjson' | 'msgpack';
export type BodyReason = Extract<DropReason, 'malformed' | 'oversized' | 'unconfigured'>;
export type BodyCounts = { [R in BodyReason]: number };

export interface HttpBodyOptions {
  maxBodyBytes?: number;
  maxEvents?: number;
  maxLineBytes?: number;
}

export interface HttpBodyInput {
  /** The dataset the body's events belong to (from the request path). */
  dataset: string;
  contentType: string | undefined;
  body: Uint8Array;
  /** Arrival time, unix ns: the timestamp of events without one. */
  receivedNs: number;
}

export interface HttpBodyResult {
  status: 200 | 400 | 413 | 415;
  format: BodyFormat | null;
  events: IngestEvent[];
  /** Ledger entries by reason. */
  dropped: BodyCounts;
  /** The first MAX_BODY_MESSAGES refusals, for the response body. */
  messages: string[];
}

const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines']);
const MSGPACK_TYPES = new Set(['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack']);

/** The body format a Content-Type names (parameters and case ignored), or null. */
export function bodyFormatOf(contentType: string | undefined): BodyFormat | null {
  if (contentType === undefined) return null;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (NDJSON_TYPES.has(type)) return 'ndjson';
  if (MSGPACK_TYPES.has(type)) return 'msgpack';
  return null;
}

export function parseHttpBody(input: HttpBodyInput, options: HttpBodyOptions = {}): HttpBodyResult {
  const limits = checkOptions(options);
  const result: HttpBodyResult = { status: 200, format: bodyFormatOf(input.contentType), events: [], dropped: { malformed: 0, oversized: 0, unconfigured: 0 }, messages: [] };
  const { body } = input;
  if (body.length > limits.maxBodyBytes) return tooLarge(result, `body of ${body.length} bytes is over the maximum of ${limits.maxBodyBytes}`);
  if (result.format === null) {
    refuse(result, 'malformed', `content type ${describeValue(input.contentType ?? '')} is neither NDJSON (application/x-ndjson) nor msgpack (application/msgpack)`);
    result.status = 415;
    return result;
  }
  const datasetRefusal = checkDataset(input.dataset);
  const accept: Accept = (value, where) => {
    if (datasetRefusal !== null) return refuse(result, datasetRefusal.reason, `${where}: ${datasetRefusal.message}`);
    const checked = toEvent(input.dataset, value, input.receivedNs);
    if (checked.ok) result.events.push(checked.event);
    else refuse(result, checked.reason, `${where}: ${checked.message}`);
  };
  const done = result.format === 'ndjson' ? parseNdjson(body, limits, result, accept) : parseMsgpack(body, limits, result, accept);
  if (!done) return result;
  if (result.events.length === 0 && result.dropped.malformed > 0) result.status = 400;
  return result;
}

/**
 * Collects a request body chunk by chunk, refusing to hold more than `maxBodyBytes`: once `push`
 * returns false the shell stops reading and answers 413 (`tooLargeResult`).
 */
export class BodyCollector {
  readonly maxBodyBytes: number;
  private readonly chunks: Uint8Array[] = [];
  private length = 0;
  private over = false;

  constructor(maxBodyBytes = DEFAULT_MAX_BODY_BYTES) {
    checkLimit('maxBodyBytes', maxBodyBytes);
    this.maxBodyBytes = maxBodyBytes;
  }

  /** A Content-Length header over the limit: refuse before reading a byte. */
  static refusesLength(contentLength: string | undefined, maxBodyBytes = DEFAULT_MAX_BODY_BYTES): boolean {
    if (contentLength === undefined || !/^\d+$/.test(contentLength.trim())) return false;
    return Number(contentLength.trim()) > maxBodyBytes;
  }

  get byteLength(): number {
    return this.length;
  }

  get tooLarge(): boolean {
    return this.over;
  }

  /** Adds a chunk; false once the body is over the limit (what was collected is then let go). */
  push(chunk: Uint8Array): boolean {
    if (this.over) return false;
    this.length += chunk.length;
    if (this.length > this.maxBodyBytes) {
      this.over = true;
      this.chunks.length = 0;
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  /** The body as one contiguous array (a copy only when it came in several chunks). */
  body(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0]!;
    return Buffer.concat(this.chunks, this.length);
  }
}

/** The result for a body refused by size before parsing (BodyCollector said no). */
export function tooLargeResult(contentType: string | undefined, maxBodyBytes = DEFAULT_MAX_BODY_BYTES): HttpBodyResult {
  const result: HttpBodyResult = { status: 200, format: bodyFormatOf(contentType), events: [], dropped: { malformed: 0, oversized: 0, unconfigured: 0 }, messages: [] };
  return tooLarge(result, `body is over the maximum of ${maxBodyBytes} bytes`);
}

/** Checks one decoded value; `where` names it in a refusal ("line 3", "event 0"). */
type Accept = (value: unknown, where: string) => void;

interface Limits {
  maxBodyBytes: number;
  maxEvents: number;
  maxLineBytes: number;
}

/** Returns false when the whole body was refused (the result says how). */
function parseNdjson(body: Uint8Array, limits: Limits, result: HttpBodyResult, accept: Accept): boolean {
  const splitter = new NdjsonSplitter({ maxLineBytes: limits.maxLineBytes });
  const take = (items: NdjsonItem[]): boolean => {
    for (const item of items) {
      if (item.ok) accept(item.value, `line ${item.line}`);
      else refuse(result, item.reason, item.message);
    }
    if (result.events.length <= limits.maxEvents) return true;
    tooLarge(result, `body holds more than the maximum of ${limits.maxEvents} events`);
    return false;
  };
  for (let at = 0; at < body.length; at += NDJSON_SLICE_BYTES) {
    if (!take(splitter.push(body.subarray(at, Math.min(at + NDJSON_SLICE_BYTES, body.length))))) return false;
  }
  return take(splitter.end());
}

/** NDJSON bodies are split this much at a time, so the event count is checked as it grows. */
const NDJSON_SLICE_BYTES = 64 * 1024;

/** Plain msgpack from outside: no records, maps as objects, 64-bit integers as numbers. */
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

const FIXARRAY_MIN = 0x90;
const FIXARRAY_MAX = 0x9f;
const ARRAY16 = 0xdc;
const ARRAY32 = 0xdd;

function parseMsgpack(body: Uint8Array, limits: Limits, result: HttpBodyResult, accept: Accept): boolean {
  if (body.length === 0) return true;
  const declared = arrayLength(body);
  let values: unknown[];
  if (declared !== null) {
    // Checked before decoding: msgpackr would start a sparse array of the declared length.
    if (declared > limits.maxEvents) {
      tooLarge(result, `body declares an array of ${declared} events, over the maximum of ${limits.maxEvents}`);
      return false;
    }
    const decoded = decode(() => unpackr.unpack(body), result);
    if (decoded === undefined) return false;
    values = decoded.value as unknown[];
  } else {
    const collected: unknown[] = [];
    let tooMany = false;
    const decoded = decode(() => {
      unpackr.unpackMultiple(body, (value: unknown) => {
        if (collected.length === limits.maxEvents) {
          tooMany = true;
          return false;
        }
        collected.push(value);
        return true;
      });
      return null;
    }, result);
    if (decoded === undefined) return false;
    if (tooMany) {
      tooLarge(result, `body holds more than the maximum of ${limits.maxEvents} events`);
      return false;
    }
    values = collected;
  }
  for (const [i, value] of values.entries()) accept(value, `event ${i}`);
  return true;
}

/** Runs a decode; on any failure, counts the body as one malformed entry and gives undefined. */
function decode(run: () => unknown, result: HttpBodyResult): { value: unknown } | undefined {
  try {
    return { value: run() };
  } catch (error) {
    const why = error instanceof RangeError ? 'nested too deep' : error instanceof Error ? error.message : String(error);
    refuse(result, 'malformed', `body is not valid msgpack: ${why}`);
    result.status = 400;
    return undefined;
  }
}

/** The element count of the array header the body starts with, or null when it starts with something else. */
function arrayLength(body: Uint8Array): number | null {
  const first = body[0]!;
  if (first >= FIXARRAY_MIN && first <= FIXARRAY_MAX) return first - FIXARRAY_MIN;
  if (first === ARRAY16 && body.length >= 3) return (body[1]! << 8) | body[2]!;
  if (first === ARRAY32 && body.length >= 5) return ((body[1]! << 24) | (body[2]! << 16) | (body[3]! << 8) | body[4]!) >>> 0;
  // A truncated array header: the decoder refuses it as malformed.
  if (first === ARRAY16 || first === ARRAY32) return 0;
  return null;
}

function refuse(result: HttpBodyResult, reason: BodyReason, message: string): void {
  result.dropped[reason]++;
  if (result.messages.length < MAX_BODY_MESSAGES) result.messages.push(message);
}

/** Refuses the whole body: no events, one `oversized` entry, 413. */
function tooLarge(result: HttpBodyResult, message: string): HttpBodyResult {
  result.events = [];
  result.dropped = { malformed: 0, oversized: 1, unconfigured: 0 };
  result.messages = [message];
  result.status = 413;
  return result;
}

function checkOptions(options: HttpBodyOptions): Limits {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxEvents = options.maxEvents ?? DEFAULT_MAX_BODY_EVENTS;
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  checkLimit('maxBodyBytes', maxBodyBytes);
  checkLimit('maxEvents', maxEvents);
  checkLimit('maxLineBytes', maxLineBytes);
  return { maxBodyBytes, maxEvents, maxLineBytes };
}

function checkLimit(path: string, value: number): void {
  if (!(Number.isSafeInteger(value) && value >= 1)) throw optionError('http body', path, 'a positive integer', value);
}
