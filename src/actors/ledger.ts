/**
 * The ledger: for every job, at every moment, `ingested = delivered + Σ dropped[reason] + inFlight`
 * (reasons: DROP_REASONS, a closed set). Stages in different threads count into one table of
 * counters in a SharedArrayBuffer that the main thread owns; they count per batch (n events, one
 * atomic add), never per event.
 *
 * describeLayout — the SharedArrayBuffer, described once (and as data by `describeLayout()`); no
 * bare index into it anywhere else:
 *
 *   byte 0    ┌──────────────────────────────────────────────────────────────────────────────┐
 *             │ MAGIC i32 │ VERSION i32 │ MAX_JOBS i32 │ SLOT_WORDS i32 │ REASONS i32        │ header
 *   byte 20   │ ALLOCATED i32   owner → views: slots in use, "-" included                   │
 *   byte 24   │ reserved, to HEADER_BYTES                                                    │
 *   byte 64   ├──────────────────────────────────────────────────────────────────────────────┤
 *             │ slot 0 ("-": events of no job)       SLOT_BYTES                              │
 *             │ slot 1 … slot MAX_JOBS (jobs)        SLOT_BYTES each                         │
 *             └──────────────────────────────────────────────────────────────────────────────┘
 *
 *   a slot, 2 + DROP_REASONS.length + 4 = 17 i64 words padded to SLOT_WORDS = 24 (SLOT_BYTES = 192,
 *   three 64-byte lines: slots start on a line, so no line holds two jobs' counters):
 *   ┌ INGESTED_WORD 0 ┬ DELIVERED_WORD 1 ┬ DROPPED_WORD + r (2 … 12, r = index in DROP_REASONS) ┬ HELD_WORD + h (13 … 16) ┬ unused (17 … 23) ┐
 *
 *   HELD words are not counters of the balance: each is a part of the slot's in-flight events, the
 *   events one holder (HOLDERS: Logreceiver's coalescing, Buftee's buffers, and Logpush's batches
 *   from a Buftee that has since died) keeps in memory and nowhere else (in no ring, and no other
 *   stage can send them again). The holder keeps it exact as it takes and hands
 *   on events; when a holder crashes, its successor counts what was held as dropped `crashed`
 *   (takeHeld), so the ledger balances to the event after any crash.
 *
 *   `lent` is the one HELD word that is no holder's alone: the batches Logpush has from the living
 *   Buftee (sent, not complete), which that Buftee still has too and sends again to a new Logpush.
 *   Logpush counts them; if it dies, they are the Buftee's again (it counts them in its own word
 *   when it answers the new Logpush's HELLO, and lets `lent` go: releaseHeld), unless that Buftee
 *   died as well: then the new Logpush counts them `crashed` (messages.ts, Restarts).
 *
 *   slot s starts at byte HEADER_BYTES + s × SLOT_BYTES; counter w of slot s is
 *   BigInt64Array index (HEADER_BYTES / 8) + s × SLOT_WORDS + w (`counterIndex`).
 *
 * Memory: 192 bytes of shared memory per job slot; the default table (100,000 jobs + "-") is
 * 64 + 100,001 × 192 = 19,200,256 bytes (18.3 MiB), of which only the slots in use are ever
 * touched (the pages of the rest are never written). Each thread holding the job → slot map adds about
 * 50 bytes of heap per job it knows (a Map entry and an array slot, measured; the id strings are
 * shared with the thread's config).
 *
 * Why i64 counters: an i32 wraps after 2^31 events, 36 minutes for a job at a million events a
 * second. The counters and the header's words are read and written through SharedCounters
 * (src/native/shared-counters.ts): this module names the indices, and touches no Atomics itself.
 *
 * Why `inFlight` never reads negative while other threads count: counters are read with
 * sequentially consistent loads, delivered and dropped first, ingested last. A stage counts an
 * event delivered or dropped only after it was counted ingested (the batch reached it through a
 * ring, which orders the two), so the ingested read last is at least the ingests behind every
 * delivery read before it. A counter stays balanced only if stages keep that order.
 *
 * Why slots are never freed: a job's counts are its history, and reusing a slot while a worker
 * still counts for the old job would corrupt both. The table is finite (maxJobs); a full table is
 * a LedgerError, and traffic of no configured job counts under "-" (NONE_SLOT).
 */

import { DROP_REASONS, NAME_PATTERN, type DropReason } from './job.js';
import { describeValue } from '../runtime/errors.js';
import { SharedCounters } from '../native/shared-counters.js';

/** "SBLG" read as a little-endian u32. */
export const LEDGER_MAGIC = 0x474c4253;
export const LEDGER_LAYOUT_VERSION = 3;

/** Byte offsets of the header fields (i32). */
export const MAGIC_OFFSET = 0;
export const VERSION_OFFSET = 4;
export const MAX_JOBS_OFFSET = 8;
export const SLOT_WORDS_OFFSET = 12;
export const REASONS_OFFSET = 16;
export const ALLOCATED_OFFSET = 20;
export const HEADER_BYTES = 64;

/** The same header offsets as Int32Array indices. */
const MAGIC_INDEX = MAGIC_OFFSET >> 2;
const VERSION_INDEX = VERSION_OFFSET >> 2;
const MAX_JOBS_INDEX = MAX_JOBS_OFFSET >> 2;
const SLOT_WORDS_INDEX = SLOT_WORDS_OFFSET >> 2;
const REASONS_INDEX = REASONS_OFFSET >> 2;
const ALLOCATED_INDEX = ALLOCATED_OFFSET >> 2;

/** Counter words within a slot. */
export const INGESTED_WORD = 0;
export const DELIVERED_WORD = 1;
export const DROPPED_WORD = 2;
export const HELD_WORD = DROPPED_WORD + DROP_REASONS.length;
/** Who may hold events in memory, each with its own HELD word (`lent`: see the layout above). */
export const HOLDERS = ['logreceiver', 'buftee', 'logpush', 'lent'] as const;
export type Holder = (typeof HOLDERS)[number];
/**
 * The 17 words a slot uses, padded to a multiple of 8 (a 64-byte line). Unpadded, at 136 bytes,
 * slots straddled lines, and threads counting different jobs (Logfwdr's ingests, Logreceiver's and
 * Buftee's held counts, Logpush's deliveries) wrote to shared lines: in nine alternating pipeline
 * runs (3 M events) against the 128-byte layout before `lent`, 7 took more CPU an event, ~5% at the
 * median. Padded: less than unpadded in 3 of 3, and less than the 128-byte layout in 4 of 6
 * (median ratio 0.91; the machine's noise between runs is ±10%).
 */
export const SLOT_WORDS = Math.ceil((2 + DROP_REASONS.length + HOLDERS.length) / 8) * 8;
export const SLOT_BYTES = SLOT_WORDS * 8;
const HEADER_WORDS = HEADER_BYTES / 8;

if (HELD_WORD + HOLDERS.length > SLOT_WORDS) {
  throw new Error(`ledger slot of ${SLOT_WORDS} words cannot hold ${DROP_REASONS.length} drop reasons and ${HOLDERS.length} held words`);
}

/** The slot of events that belong to no job (unconfigured or malformed traffic). */
export const NONE_JOB = '-';
export const NONE_SLOT = 0;
export const DEFAULT_MAX_JOBS = 100_000;
/** Slots are i32-addressed and the table must fit one SharedArrayBuffer comfortably (~183 MiB at 192-byte slots). */
export const MAX_MAX_JOBS = 1_000_000;

const REASON_WORD = Object.fromEntries(DROP_REASONS.map((reason, i) => [reason, DROPPED_WORD + i])) as Record<
  DropReason,
  number
>;


/** Bytes of shared memory for a table of `maxJobs` job slots plus "-". */
export function ledgerBytes(maxJobs: number): number {
  return HEADER_BYTES + (maxJobs + 1) * SLOT_BYTES;
}

/** The layout above as data, for a metrics page or a debugger: named offsets, no drawing. */
export function describeLayout(maxJobs: number = DEFAULT_MAX_JOBS): {
  headerBytes: number;
  slotBytes: number;
  slots: number;
  totalBytes: number;
  header: Record<'magic' | 'version' | 'maxJobs' | 'slotWords' | 'reasons' | 'allocated', number>;
  counterWords: Record<'ingested' | 'delivered' | `dropped.${DropReason}`, number>;
} {
  const counterWords = { ingested: INGESTED_WORD, delivered: DELIVERED_WORD } as Record<string, number>;
  for (const reason of DROP_REASONS) counterWords[`dropped.${reason}`] = REASON_WORD[reason];
  return {
    headerBytes: HEADER_BYTES,
    slotBytes: SLOT_BYTES,
    slots: maxJobs + 1,
    totalBytes: ledgerBytes(maxJobs),
    header: {
      magic: MAGIC_OFFSET,
      version: VERSION_OFFSET,
      maxJobs: MAX_JOBS_OFFSET,
      slotWords: SLOT_WORDS_OFFSET,
      reasons: REASONS_OFFSET,
      allocated: ALLOCATED_OFFSET,
    },
    counterWords: counterWords as Record<'ingested' | 'delivered' | `dropped.${DropReason}`, number>,
  };
}

/** Index of counter `word` of `slot` in a BigInt64Array over the whole buffer. */
export function counterIndex(slot: number, word: number): number {
  return HEADER_WORDS + slot * SLOT_WORDS + word;
}

export type LedgerErrorCode = 'ERR_LEDGER_FULL' | 'ERR_LEDGER_JOB' | 'ERR_LEDGER_SLOT' | 'ERR_LEDGER_COUNT' | 'ERR_LEDGER_LAYOUT';

export class LedgerError extends Error {
  readonly code: LedgerErrorCode;
  constructor(code: LedgerErrorCode, message: string) {
    super(message);
    this.name = 'LedgerError';
    this.code = code;
  }
}

export interface LedgerEntry {
  ingested: number;
  delivered: number;
  dropped: Record<DropReason, number>;
  inFlight: number;
}

export type LedgerSnapshot = Record<string, LedgerEntry>;

/** What a worker needs to count into the ledger: plain data, post it. `jobs[s]` names slot s. */
export interface LedgerHandle {
  readonly buffer: SharedArrayBuffer;
  readonly jobs: readonly string[];
}

export interface LedgerOptions {
  /** Job slots, "-" not included; default 100,000. */
  maxJobs?: number;
}

/**
 * Counting and reading, in any thread: built from the SharedArrayBuffer and the slot names the
 * owner handed over (`LedgerView.attach(ledger.handle())`).
 */
export class LedgerView {
  readonly buffer: SharedArrayBuffer;
  readonly maxJobs: number;
  /** The counters and the header's words (indices: counterIndex, the *_INDEX constants). */
  protected readonly shared: SharedCounters;
  /** Slot s is named jobs[s]; append-only. */
  protected readonly jobs: string[];
  protected readonly slots = new Map<string, number>();

  protected constructor(buffer: SharedArrayBuffer, jobs: readonly string[]) {
    this.buffer = buffer;
    this.shared = new SharedCounters(buffer);
    this.maxJobs = this.shared.word(MAX_JOBS_INDEX);
    this.jobs = [];
    this.learn(jobs);
  }

  static attach(handle: LedgerHandle): LedgerView {
    checkLayout(handle.buffer);
    return new LedgerView(handle.buffer, handle.jobs);
  }

  /** Learns the slots the owner allocated since this view was built (slots are append-only). */
  update(handle: LedgerHandle): void {
    if (handle.buffer.byteLength !== this.buffer.byteLength) {
      throw new LedgerError(
        'ERR_LEDGER_LAYOUT',
        `ledger handle of ${handle.buffer.byteLength} bytes names another ledger than this view's ${this.buffer.byteLength}`,
      );
    }
    this.learn(handle.jobs);
  }

  /** The slot of a job this view knows, or undefined (count such traffic under NONE_SLOT). */
  slotOf(jobId: string): number | undefined {
    return this.slots.get(jobId);
  }

  /** The job of a slot, or undefined if this view does not know it. */
  jobOf(slot: number): string | undefined {
    return this.jobs[slot];
  }

  ingest(slot: number, n: number): void {
    this.add(slot, INGESTED_WORD, n);
  }

  deliver(slot: number, n: number): void {
    this.add(slot, DELIVERED_WORD, n);
  }

  drop(slot: number, reason: DropReason, n: number): void {
    const word = REASON_WORD[reason];
    if (word === undefined) {
      throw new LedgerError('ERR_LEDGER_COUNT', `unknown drop reason ${describeValue(reason)}; reasons: ${DROP_REASONS.join(', ')}`);
    }
    this.add(slot, word, n);
  }

  /**
   * Moves `n` (may be negative) into or out of what `holder` keeps in memory for `slot`: positive
   * when it takes events from a ring, negative when it hands them on to a ring or drops them.
   */
  hold(slot: number, holder: Holder, n: number): void {
    if (n === 0) return;
    if (!(Number.isInteger(slot) && slot >= 0 && slot <= this.maxJobs)) {
      throw new LedgerError('ERR_LEDGER_SLOT', `ledger slot must be an integer from 0 to ${this.maxJobs}, got ${describeValue(slot)}`);
    }
    if (!Number.isSafeInteger(n)) throw new LedgerError('ERR_LEDGER_COUNT', `held count must be a safe integer, got ${describeValue(n)}`);
    // Publishes the holder's change to its successor (read after a crash).
    this.shared.add(counterIndex(slot, HELD_WORD + HOLDERS.indexOf(holder)), n);
  }

  /** Events `holder` keeps in memory for `slot`. */
  held(slot: number, holder: Holder): number {
    return this.shared.load(counterIndex(slot, HELD_WORD + HOLDERS.indexOf(holder)));
  }

  /**
   * A crashed holder's successor: counts everything its predecessor held as dropped `crashed`,
   * slot by slot, and zeroes what is held. Returns the events so counted.
   */
  takeHeld(holder: Holder): number {
    const word = HELD_WORD + HOLDERS.indexOf(holder);
    let total = 0;
    const allocated = this.allocated();
    for (let slot = 0; slot < allocated; slot++) {
      // Consumes and clears the predecessor's held count in one step.
      const n = this.shared.take(counterIndex(slot, word));
      if (n > 0) {
        this.drop(slot, 'crashed', n);
        total += n;
      }
    }
    return total;
  }

  /**
   * Zeroes what `holder` keeps in every slot without counting it anywhere: for a word whose events
   * another holder has taken back (Buftee answering a new Logpush's HELLO lets `lent` go). Returns
   * the events so let go.
   */
  releaseHeld(holder: Holder): number {
    const word = HELD_WORD + HOLDERS.indexOf(holder);
    let total = 0;
    const allocated = this.allocated();
    for (let slot = 0; slot < allocated; slot++) total += this.shared.take(counterIndex(slot, word));
    return total;
  }

  /** One job's counters, or undefined for a slot this view does not know. */
  entry(jobId: string): LedgerEntry | undefined {
    const slot = this.slots.get(jobId);
    return slot === undefined ? undefined : this.read(slot);
  }

  /** Every known slot's counters, "-" included, keyed by job. */
  snapshot(): LedgerSnapshot {
    const out: LedgerSnapshot = {};
    for (let slot = 0; slot < this.jobs.length; slot++) out[this.jobs[slot] as string] = this.read(slot);
    return out;
  }

  /** The sums over every slot in use (slots the owner allocated, known here by name or not). */
  totals(): LedgerEntry {
    // Summed in place, without an entry per slot: at 1,000,000 jobs an object per slot made each
    // call (stop()'s drain loop polls it) seconds of garbage.
    const total = emptyEntry();
    const allocated = this.allocated();
    for (let slot = 0; slot < allocated; slot++) this.addSlot(slot, total);
    return total;
  }

  /** True when no slot in use has more events delivered or dropped than ingested. */
  balanced(): boolean {
    const scratch = emptyEntry();
    const allocated = this.allocated();
    for (let slot = 0; slot < allocated; slot++) if (this.addSlot(slot, scratch) < 0) return false;
    return true;
  }

  /** Slots in use as the owner last published them, "-" included. */
  allocated(): number {
    // Consumes the owner's count of slots in use.
    return this.shared.word(ALLOCATED_INDEX);
  }

  private add(slot: number, word: number, n: number): void {
    if (!(Number.isInteger(slot) && slot >= 0 && slot <= this.maxJobs)) {
      throw new LedgerError('ERR_LEDGER_SLOT', `ledger slot must be an integer from 0 to ${this.maxJobs}, got ${describeValue(slot)}`);
    }
    if (!(Number.isSafeInteger(n) && n >= 0)) {
      throw new LedgerError('ERR_LEDGER_COUNT', `ledger count must be a non-negative safe integer, got ${describeValue(n)}`);
    }
    if (n === 0) return;
    // Publishes n more events of this job and reason to every thread that reads the ledger.
    this.shared.add(counterIndex(slot, word), n);
  }

  private read(slot: number): LedgerEntry {
    const entry = emptyEntry();
    this.addSlot(slot, entry);
    return entry;
  }

  /** A balance counter (ingested, delivered, dropped: they only ever grow), without a BigInt (SharedCounters.loadGrowing). */
  private balanceCounter(index: number): number {
    return this.shared.loadGrowing(index);
  }

  /** Adds `slot`'s counters to `into` and returns the slot's events in flight. */
  private addSlot(slot: number, into: LedgerEntry): number {
    const base = counterIndex(slot, 0);
    // Consumes delivered and dropped before ingested: see "never reads negative" above.
    let settled = this.balanceCounter(base + DELIVERED_WORD);
    into.delivered += settled;
    const dropped = into.dropped;
    for (let r = 0; r < DROP_REASONS.length; r++) {
      // Consumes the drops counted by every stage.
      const n = this.balanceCounter(base + DROPPED_WORD + r);
      dropped[DROP_REASONS[r]!] += n;
      settled += n;
    }
    // Consumes ingests, last.
    const ingested = this.balanceCounter(base + INGESTED_WORD);
    into.ingested += ingested;
    into.inFlight += ingested - settled;
    return ingested - settled;
  }

  private learn(jobs: readonly string[]): void {
    for (let slot = this.jobs.length; slot < jobs.length; slot++) {
      const job = jobs[slot] as string;
      this.jobs.push(job);
      this.slots.set(job, slot);
    }
  }
}

/**
 * The owner's ledger (main thread): creates the table and allocates job slots. Every thread,
 * the owner included, counts through the same methods.
 */
export class Ledger extends LedgerView {
  static create(options: LedgerOptions = {}): Ledger {
    const maxJobs = options.maxJobs ?? DEFAULT_MAX_JOBS;
    if (!(Number.isInteger(maxJobs) && maxJobs >= 1 && maxJobs <= MAX_MAX_JOBS)) {
      throw new LedgerError('ERR_LEDGER_SLOT', `ledger maxJobs must be an integer from 1 to ${MAX_MAX_JOBS}, got ${describeValue(maxJobs)}`);
    }
    const buffer = new SharedArrayBuffer(ledgerBytes(maxJobs));
    const shared = new SharedCounters(buffer);
    shared.setWord(MAGIC_INDEX, LEDGER_MAGIC);
    shared.setWord(VERSION_INDEX, LEDGER_LAYOUT_VERSION);
    shared.setWord(MAX_JOBS_INDEX, maxJobs);
    shared.setWord(SLOT_WORDS_INDEX, SLOT_WORDS);
    shared.setWord(REASONS_INDEX, DROP_REASONS.length);
    // Publishes the "-" slot; the buffer reaches other threads only after this, by postMessage.
    shared.setWord(ALLOCATED_INDEX, 1);
    return new Ledger(buffer, [NONE_JOB]);
  }

  /**
   * The slot of a job, allocated on first use. Throws ERR_LEDGER_JOB for a name outside
   * NAME_PATTERN and ERR_LEDGER_FULL when every slot is taken. "-" is NONE_SLOT.
   */
  slot(jobId: string): number {
    const known = this.slots.get(jobId);
    if (known !== undefined) return known;
    if (typeof jobId !== 'string' || !NAME_PATTERN.test(jobId)) {
      throw new LedgerError(
        'ERR_LEDGER_JOB',
        `ledger job id must be 1-64 of [A-Za-z0-9_-] starting with a letter or digit, got ${describeValue(jobId)}`,
      );
    }
    const slot = this.jobs.length;
    if (slot > this.maxJobs) {
      throw new LedgerError(
        'ERR_LEDGER_FULL',
        `ledger is full: all ${this.maxJobs} job slots are in use, cannot add job "${jobId}" (raise maxJobs)`,
      );
    }
    this.jobs.push(jobId);
    this.slots.set(jobId, slot);
    // Publishes the new slot count to views (they learn its name through `handle()`).
    this.shared.setWord(ALLOCATED_INDEX, this.jobs.length);
    return slot;
  }

  /** Job slots left before the table is full. */
  free(): number {
    return this.maxJobs + 1 - this.jobs.length;
  }

  /** Plain data for another thread's `LedgerView.attach` or `update`. */
  handle(): LedgerHandle {
    return { buffer: this.buffer, jobs: this.jobs.slice() };
  }
}

function checkLayout(buffer: unknown): asserts buffer is SharedArrayBuffer {
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES) {
    throw new LedgerError('ERR_LEDGER_LAYOUT', `not a Seatbelt ledger: expected a SharedArrayBuffer, got ${describeValue(buffer)}`);
  }
  const header = new Int32Array(buffer, 0, HEADER_BYTES >> 2);
  const fields: [string, number | undefined, number][] = [
    ['magic', header[MAGIC_INDEX], LEDGER_MAGIC],
    ['layout version', header[VERSION_INDEX], LEDGER_LAYOUT_VERSION],
    ['slot words', header[SLOT_WORDS_INDEX], SLOT_WORDS],
    ['drop reasons', header[REASONS_INDEX], DROP_REASONS.length],
  ];
  for (const [name, got, want] of fields) {
    if (got !== want) throw new LedgerError('ERR_LEDGER_LAYOUT', `not a Seatbelt ledger of this build: ${name} is ${got}, expected ${want}`);
  }
  const maxJobs = header[MAX_JOBS_INDEX] ?? 0;
  if (buffer.byteLength !== ledgerBytes(maxJobs)) {
    throw new LedgerError(
      'ERR_LEDGER_LAYOUT',
      `ledger of ${maxJobs} job slots needs ${ledgerBytes(maxJobs)} bytes, the buffer has ${buffer.byteLength}`,
    );
  }
}

function emptyEntry(): LedgerEntry {
  const dropped = Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;
  return { ingested: 0, delivered: 0, dropped, inFlight: 0 };
}
