/**
 * The jobs of a config as every stage receives them: encoded once, on the main thread, into one
 * SharedArrayBuffer that every worker reads in place. Posting the plain job list instead made each
 * stage's `workerData` (and each `reconfigure`) a structured clone of the whole config: at
 * 1,000,000 jobs, five clones of ~500 MB each, and the workers ran out of heap while deserializing
 * before the pipeline had started (bench/scale). Now a stage decodes only what it needs, when it
 * needs it: Logfwdr, Logreceiver and Buftee walk the table once per config (each job decoded into a
 * short-lived object), Logpush decodes a job when the first batch of it arrives.
 *
 * Layout (all little-endian words of the buffer, then the bytes):
 *
 *   word 0 MAGIC · 1 count · 2 slot-index length · 3 byte offset of the payloads
 *   words 4 .. 4+3·count: per entry, its ledger slot, its payload's offset and length
 *   next slot-index-length words: entry of each ledger slot, or -1
 *   payloads: each job as plain msgpack (maps), in config order
 *
 * A table is immutable once built; a new config builds a new one. Equal payload bytes mean an
 * unchanged job, which is how Logpush tells a changed job from one that is only re-sent.
 */

import { Packr, Unpackr } from 'msgpackr';
import type { JobConfig } from './job.js';
import { RoutingIndex, type RoutedEntry } from './routing-index.js';

const MAGIC = 0x4a4f4254; // "JOBT"
const HEADER_WORDS = 4;
const ENTRY_WORDS = 3;

/** What crosses threads: one SharedArrayBuffer, shared, never copied. */
export interface JobTableHandle {
  readonly kind: 'job-table';
  readonly buffer: SharedArrayBuffer;
  /** The enabled jobs' routes: (dataset, zone) → slots (routing-index.ts). */
  readonly routing: SharedArrayBuffer;
}

/** A stage config's jobs: a table (what the pipeline sends) or a plain list (tests, embedders). */
export type StageJobs = readonly JobConfig[] | JobTableHandle;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export class JobTable {
  readonly count: number;
  private readonly words: Uint32Array;
  private readonly bySlot: Int32Array;
  private readonly bytes: Uint8Array;
  private routing_: RoutingIndex | null = null;
  /** Copy-out buffer for decoding: msgpackr decodes strings from an ArrayBuffer only. */
  private scratch = new Uint8Array(1024);

  private constructor(readonly handle: JobTableHandle) {
    if (handle.buffer.byteLength < 4 * HEADER_WORDS) throw new Error('job table: not a job table (too short)');
    const header = new Uint32Array(handle.buffer, 0, HEADER_WORDS);
    if (header[0] !== MAGIC) throw new Error('job table: not a job table (bad magic)');
    this.count = header[1]!;
    const words = new Uint32Array(handle.buffer, 0, HEADER_WORDS + ENTRY_WORDS * this.count);
    this.words = words;
    const slots = words[2]!;
    const indexAt = HEADER_WORDS + ENTRY_WORDS * this.count;
    this.bySlot = new Int32Array(handle.buffer, indexAt * 4, slots);
    this.bytes = new Uint8Array(handle.buffer, words[3]!);
  }

  /**
   * Encodes `jobs` with each job's ledger slot (`slotOf`; a job without one is left out, as a stage
   * could not count it). Jobs stay in config order.
   */
  static build(jobs: readonly JobConfig[], slotOf: (id: string) => number | undefined): JobTable {
    const payloads: Uint8Array[] = [];
    const slots: number[] = [];
    const routes: RoutedEntry[] = [];
    let total = 0;
    let maxSlot = -1;
    for (const job of jobs) {
      const slot = slotOf(job.id);
      if (slot === undefined) continue;
      const payload = packr.pack(job);
      if (job.enabled !== false) routes.push({ dataset: job.dataset, zones: job.zones, slot });
      payloads.push(payload);
      slots.push(slot);
      total += payload.length;
      if (slot > maxSlot) maxSlot = slot;
    }
    const count = payloads.length;
    const slotWords = maxSlot + 1;
    const payloadsAt = 4 * (HEADER_WORDS + ENTRY_WORDS * count + slotWords);
    const buffer = new SharedArrayBuffer(payloadsAt + total);
    const words = new Uint32Array(buffer, 0, HEADER_WORDS + ENTRY_WORDS * count);
    words[0] = MAGIC;
    words[1] = count;
    words[2] = slotWords;
    words[3] = payloadsAt;
    const bySlot = new Int32Array(buffer, 4 * (HEADER_WORDS + ENTRY_WORDS * count), slotWords).fill(-1);
    const bytes = new Uint8Array(buffer, payloadsAt);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const payload = payloads[i]!;
      const at = HEADER_WORDS + ENTRY_WORDS * i;
      words[at] = slots[i]!;
      words[at + 1] = offset;
      words[at + 2] = payload.length;
      bytes.set(payload, offset);
      offset += payload.length;
      // The first of two jobs on one slot wins (ids are unique in a checked config).
      if (bySlot[slots[i]!] === -1) bySlot[slots[i]!] = i;
    }
    return new JobTable({ kind: 'job-table', buffer, routing: RoutingIndex.build(routes).buffer });
  }

  /** Where each enabled job's events go: attached on first use. */
  get routing(): RoutingIndex {
    return (this.routing_ ??= new RoutingIndex(this.handle.routing));
  }

  static attach(handle: JobTableHandle): JobTable {
    return new JobTable(handle);
  }

  /** The stage config's jobs as a table: attached when it is one, built (slots from `slotOf`) when it is a list. */
  static of(jobs: StageJobs, slotOf: (id: string) => number | undefined): JobTable {
    return isJobTableHandle(jobs) ? JobTable.attach(jobs) : JobTable.build(jobs, slotOf);
  }

  slotAt(entry: number): number {
    return this.words[HEADER_WORDS + ENTRY_WORDS * entry]!;
  }

  /** The entry of a ledger slot, or -1 when no job of this table has it. */
  entryOfSlot(slot: number): number {
    return slot >= 0 && slot < this.bySlot.length ? this.bySlot[slot]! : -1;
  }

  /** The encoded job of `entry`: a view into shared memory, for comparing, never for keeping. */
  payload(entry: number): Uint8Array {
    const at = HEADER_WORDS + ENTRY_WORDS * entry;
    return this.bytes.subarray(this.words[at + 1]!, this.words[at + 1]! + this.words[at + 2]!);
  }

  /** A fresh JobConfig decoded from `entry`. */
  job(entry: number): JobConfig {
    const payload = this.payload(entry);
    if (this.scratch.length < payload.length) this.scratch = new Uint8Array(Math.max(payload.length, 2 * this.scratch.length));
    this.scratch.set(payload);
    return unpackr.unpack(this.scratch, { start: 0, end: payload.length } as never) as JobConfig;
  }

  /**
   * The job on ledger slot `slot`, or undefined: decoded to be kept (Buftee's admitted jobs,
   * Logpush's deliveries), its strings detached from the payload (`detach`).
   */
  jobOfSlot(slot: number): JobConfig | undefined {
    const entry = this.entryOfSlot(slot);
    return entry < 0 ? undefined : detach(this.job(entry));
  }

  /** Whether `slot`'s job has the same encoding in both tables (an unchanged job). */
  sameJob(other: JobTable, slot: number): boolean {
    const a = this.entryOfSlot(slot);
    const b = other.entryOfSlot(slot);
    if (a < 0 || b < 0) return false;
    const mine = this.payload(a);
    return Buffer.from(mine.buffer, mine.byteOffset, mine.byteLength).equals(other.payload(b));
  }

  /** Every job, decoded one at a time, with its slot. */
  *entries(): IterableIterator<{ job: JobConfig; slot: number }> {
    for (let i = 0; i < this.count; i++) yield { job: this.job(i), slot: this.slotAt(i) };
  }

  /** Every job, decoded one at a time. */
  *jobs(): IterableIterator<JobConfig> {
    for (let i = 0; i < this.count; i++) yield this.job(i);
  }

  get byteLength(): number {
    return this.handle.buffer.byteLength;
  }
}

/** V8 copies a substring shorter than this; a longer one may be a view (SlicedString) of its parent. */
const SLICED_MIN_LENGTH = 13;
/** Strings shared by the jobs kept: datasets, field names, destinations' common parts. Bounded. */
const interned = new Map<string, string>();
const MAX_INTERNED = 4096;

/**
 * `value` with every string it holds on its own: msgpackr decodes a payload's strings as slices of
 * one string of the whole payload, so a job kept for its `id` or `dataset` kept all ~460 bytes of
 * its payload alive (bench:scale's hot set at 100,000 jobs: 44 MB of Buftee's heap, marked by every
 * full GC). Strings seen before (a dataset, a field name) are shared, from a bounded table; others
 * are copied.
 */
export function detach<T>(value: T): T {
  if (typeof value === 'string') return own(value) as T;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v === 'string' || (typeof v === 'object' && v !== null)) value[i] = detach(v);
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = detach(record[key]);
  return value;
}

function own(s: string): string {
  if (s.length < SLICED_MIN_LENGTH) return s;
  const known = interned.get(s);
  if (known !== undefined) return known;
  // JSON.parse makes a string of its own (a template literal or slice() could return a view again).
  const copy = JSON.parse(JSON.stringify(s)) as string;
  if (interned.size < MAX_INTERNED) interned.set(copy, copy);
  return copy;
}

export function isJobTableHandle(jobs: unknown): jobs is JobTableHandle {
  return (
    typeof jobs === 'object' &&
    jobs !== null &&
    (jobs as { kind?: unknown }).kind === 'job-table' &&
    (jobs as { buffer?: unknown }).buffer instanceof SharedArrayBuffer &&
    (jobs as { routing?: unknown }).routing instanceof SharedArrayBuffer
  );
}
