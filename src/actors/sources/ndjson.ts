/**
 * An incremental NDJSON line splitter for network input (a TCP stream, an HTTP body): feed it
 * chunks as they come, get back each line's object or the reason it was refused.
 *
 * Limits, so a peer cannot make it hold more than it allows:
 *   - A line longer than `maxLineBytes` (default 1 MiB, counted before its "\n", a "\r" included)
 *     is refused as `oversized` as soon as it is known to be too long; the rest of it is skipped
 *     without being buffered, and splitting resumes after its newline.
 *   - The only memory kept between chunks is the unfinished line: at most `maxLineBytes`, in a
 *     buffer that grows by doubling up to that and is reused. Complete lines inside a chunk are
 *     parsed straight from the chunk.
 *
 * A line is `malformed` when it is not UTF-8, not JSON, or JSON but not an object. Blank lines
 * (nothing but spaces, tabs and a "\r") are no events and are counted apart. The output does not
 * depend on how the input was cut into chunks: same bytes, same items, same messages. Nothing
 * here throws on bad input.
 *
 * `toEvent` (ingest-event.ts) is the next step: dataset, ZoneID, timestamp.
 */

import type { DropReason } from '../job.js';
import { optionError } from './errors.js';

export { toEvent, type IngestEvent, type ToEventResult, type IngestReason } from './ingest-event.js';

export const DEFAULT_MAX_LINE_BYTES = 1 << 20;
/** A line limit near the heap's size is no limit; 256 MiB is already far past any log event. */
const MAX_MAX_LINE_BYTES = 1 << 28;
const INITIAL_BUFFER_BYTES = 4096;
const NEWLINE = 0x0a;
const CR = 0x0d;

export interface NdjsonOptions {
  /** Longest line accepted, in bytes. Default 1 MiB. */
  maxLineBytes?: number;
}

export type NdjsonReason = Extract<DropReason, 'malformed' | 'oversized'>;

/** One line's outcome. `line` counts from 1, blank lines included. */
export type NdjsonItem =
  | { ok: true; line: number; value: Record<string, unknown> }
  | { ok: false; line: number; reason: NdjsonReason; message: string };

export interface NdjsonCounts {
  /** Lines seen through to their end (or to end()), blank and refused ones included. */
  lines: number;
  objects: number;
  blank: number;
  malformed: number;
  oversized: number;
  bytes: number;
}

export class NdjsonSplitter {
  readonly maxLineBytes: number;
  private pending: Buffer;
  private pendingLength = 0;
  /** Skipping the rest of a line already refused as oversized. */
  private skipping = false;
  /** Lines finished so far; the one being read is number lines + 1. */
  private finishedLines = 0;
  private readonly tally: NdjsonCounts = { lines: 0, objects: 0, blank: 0, malformed: 0, oversized: 0, bytes: 0 };
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(options: NdjsonOptions = {}) {
    const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isInteger(max) || max < 1 || max > MAX_MAX_LINE_BYTES) {
      throw optionError('ndjson', 'maxLineBytes', `an integer from 1 to ${MAX_MAX_LINE_BYTES}`, max);
    }
    this.maxLineBytes = max;
    this.pending = Buffer.alloc(Math.min(INITIAL_BUFFER_BYTES, max));
  }

  /** Counts so far, by outcome. */
  get counts(): Readonly<NdjsonCounts> {
    return this.tally;
  }

  /** Bytes of the unfinished line held between chunks (at most maxLineBytes). */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /** Bytes allocated for the unfinished line (at most maxLineBytes). */
  get bufferCapacity(): number {
    return this.pending.length;
  }

  /** Splits `chunk` on top of what earlier chunks left; returns the items of the lines it finished. */
  push(chunk: Uint8Array): NdjsonItem[] {
    const out: NdjsonItem[] = [];
    const max = this.maxLineBytes;
    this.tally.bytes += chunk.length;
    let pos = 0;
    while (pos < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, pos);
      if (newline < 0) {
        // The chunk ends inside a line: keep it, unless it is (now) known to be too long.
        const tail = chunk.length - pos;
        if (!this.skipping) {
          if (this.pendingLength + tail > max) this.refuseOversized(out);
          else this.append(chunk, pos, chunk.length);
        }
        break;
      }
      const line = this.finishedLines + 1;
      if (this.skipping) {
        this.skipping = false;
      } else if (this.pendingLength > 0) {
        if (this.pendingLength + (newline - pos) > max) {
          this.oversized(out, line);
        } else {
          this.append(chunk, pos, newline);
          this.parse(this.pending, 0, this.pendingLength, line, out);
        }
        this.pendingLength = 0;
      } else if (newline - pos > max) {
        this.oversized(out, line);
      } else {
        this.parse(chunk, pos, newline, line, out);
      }
      this.finishLine();
      pos = newline + 1;
    }
    return out;
  }

  /** The input ended: a last line without a newline is a line too. */
  end(): NdjsonItem[] {
    const out: NdjsonItem[] = [];
    if (this.skipping) {
      this.skipping = false;
      this.finishLine();
    } else if (this.pendingLength > 0) {
      this.parse(this.pending, 0, this.pendingLength, this.finishedLines + 1, out);
      this.pendingLength = 0;
      this.finishLine();
    }
    return out;
  }

  private finishLine(): void {
    this.finishedLines++;
    this.tally.lines++;
  }

  /** The line being read has outgrown the limit before its end: refuse it now, skip the rest. */
  private refuseOversized(out: NdjsonItem[]): void {
    this.oversized(out, this.finishedLines + 1);
    this.pendingLength = 0;
    this.skipping = true;
  }

  private oversized(out: NdjsonItem[], line: number): void {
    this.tally.oversized++;
    out.push({ ok: false, line, reason: 'oversized', message: `line ${line} is longer than the maximum of ${this.maxLineBytes} bytes` });
  }

  private append(chunk: Uint8Array, start: number, end: number): void {
    const needed = this.pendingLength + (end - start);
    if (needed > this.pending.length) {
      let capacity = this.pending.length;
      while (capacity < needed) capacity *= 2;
      const grown = Buffer.alloc(Math.min(capacity, this.maxLineBytes));
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(chunk.subarray(start, end), this.pendingLength);
    this.pendingLength = needed;
  }

  private parse(bytes: Uint8Array, start: number, end: number, line: number, out: NdjsonItem[]): void {
    if (end > start && bytes[end - 1] === CR) end--;
    if (isBlank(bytes, start, end)) {
      this.tally.blank++;
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(this.utf8.decode(bytes.subarray(start, end)));
    } catch (error) {
      this.malformed(out, line, error instanceof SyntaxError ? `is not JSON: ${error.message}` : 'is not valid UTF-8');
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.malformed(out, line, `is JSON but ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not an object`);
      return;
    }
    this.tally.objects++;
    out.push({ ok: true, line, value: value as Record<string, unknown> });
  }

  private malformed(out: NdjsonItem[], line: number, what: string): void {
    this.tally.malformed++;
    out.push({ ok: false, line, reason: 'malformed', message: `line ${line} ${what}` });
  }
}

/** Whether bytes[start, end) hold only JSON's insignificant whitespace (a "\n" cannot be among them). */
function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== CR) return false;
  }
  return true;
}
