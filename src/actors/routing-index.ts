/**
 * Which ledger slots take the events of (dataset, zone): the question Logfwdr and Logreceiver ask
 * of every distinct zone of a batch, answered from shared memory. Built once per accepted config on
 * the main thread, beside the job table (job-table.ts), and read in place by both stages: neither
 * decodes a job nor builds a map of every zone at start, so a config of 1,000,000 jobs costs them
 * no boot time and no heap (each built its own RoutingTable before: ~10 s and ~100 MB a stage at
 * 1,000,000 jobs).
 *
 * Layout (Int32 words; zone keys as Float64, zone ids being positive safe integers):
 *
 *   word 0 MAGIC · 1 dataset count · 2 enabled jobs · 3 routes (dataset, zone, job triples)
 *   per dataset: word offset of its keys (Float64 index) · capacity (a power of two) · zones · values' word offset
 *   keys: open addressing, linear probing, 0 = empty
 *   values: a slot (>= 0), or -(1 + word offset of a list [n, slot, ...]) for zones of several jobs
 *   lists: interned, so zones served by the same jobs share one
 */

import { DATASETS } from './job.js';

const MAGIC = 0x524f5554; // "ROUT"
const HEADER_WORDS = 4;
const DATASET_WORDS = 4;

export interface RoutedEntry {
  readonly dataset: string;
  readonly zones: readonly number[];
  readonly slot: number;
}

const EMPTY: readonly number[] = Object.freeze([]);

function hash(zone: number, mask: number): number {
  const lo = zone >>> 0;
  const hi = Math.floor(zone / 4294967296) >>> 0;
  return (Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 7) & mask;
}

export class RoutingIndex {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly keys: Float64Array;
  /** Decoded lists, by word offset: each list becomes one frozen array in this thread. */
  private readonly lists = new Map<number, readonly number[]>();
  /**
   * One frozen [slot] array per slot seen (a zone of one job), by slot: an array, not a Map (a hash
   * lookup per distinct zone of every batch, in Logfwdr and Logreceiver). At most one entry per
   * slot, so no longer than the ledger's slots.
   */
  private readonly singles: (readonly number[] | undefined)[] = [];

  constructor(buffer: SharedArrayBuffer) {
    const words = new Int32Array(buffer);
    if (words.length < HEADER_WORDS || words[0] !== MAGIC) throw new Error('routing index: not a routing index (bad magic)');
    if (words[1] !== DATASETS.length) throw new Error(`routing index: built for ${words[1]} datasets, this build knows ${DATASETS.length}`);
    this.buffer = buffer;
    this.words = words;
    this.keys = new Float64Array(buffer);
  }

  /** Indexes each enabled job's zones under its dataset (unknown datasets are left out). */
  static build(entries: Iterable<RoutedEntry>): RoutingIndex {
    const byDataset = DATASETS.map(() => new Map<number, number[]>());
    let jobs = 0;
    let routes = 0;
    for (const { dataset, zones, slot } of entries) {
      const d = (DATASETS as readonly string[]).indexOf(dataset);
      if (d < 0) continue;
      jobs++;
      const map = byDataset[d]!;
      for (const zone of zones) {
        const list = map.get(zone);
        if (list === undefined) map.set(zone, [slot]);
        else if (!list.includes(slot)) list.push(slot);
        else continue;
        routes++;
      }
    }
    // Interned lists of two or more slots.
    const listAt = new Map<string, number>();
    const listWords: number[] = [];
    for (const map of byDataset) {
      for (const list of map.values()) {
        if (list.length < 2) continue;
        const key = list.join(',');
        if (!listAt.has(key)) {
          listAt.set(key, listWords.length);
          listWords.push(list.length, ...list);
        }
      }
    }
    // Word layout: header, dataset records, then per dataset keys (8-byte aligned) and values, then lists.
    let at = HEADER_WORDS + DATASET_WORDS * DATASETS.length;
    const places = byDataset.map((map) => {
      let capacity = 8;
      while (capacity < map.size * 2) capacity *= 2;
      if (at % 2 === 1) at++;
      const keysAt = at / 2; // Float64 index
      at += capacity * 2;
      const valuesAt = at;
      at += capacity;
      return { capacity, keysAt, valuesAt };
    });
    const listsAt = at;
    at += listWords.length;
    if (at % 2 === 1) at++;
    const buffer = new SharedArrayBuffer(at * 4);
    const words = new Int32Array(buffer);
    const keys = new Float64Array(buffer);
    words[0] = MAGIC;
    words[1] = DATASETS.length;
    words[2] = jobs;
    words[3] = routes;
    words.set(listWords, listsAt);
    byDataset.forEach((map, d) => {
      const { capacity, keysAt, valuesAt } = places[d]!;
      const record = HEADER_WORDS + DATASET_WORDS * d;
      words[record] = keysAt;
      words[record + 1] = capacity;
      words[record + 2] = map.size;
      words[record + 3] = valuesAt;
      const mask = capacity - 1;
      for (const [zone, list] of map) {
        let i = hash(zone, mask);
        while (keys[keysAt + i] !== 0) i = (i + 1) & mask;
        keys[keysAt + i] = zone;
        words[valuesAt + i] = list.length === 1 ? list[0]! : -(1 + listsAt + listAt.get(list.join(','))!);
      }
    });
    return new RoutingIndex(buffer);
  }

  /** Enabled jobs indexed. */
  get jobCount(): number {
    return this.words[2]!;
  }

  /** (dataset, zone, job) triples indexed. */
  get routeCount(): number {
    return this.words[3]!;
  }

  /** Configured (dataset, zone) pairs. */
  get zoneCount(): number {
    let n = 0;
    for (let d = 0; d < DATASETS.length; d++) n += this.words[HEADER_WORDS + DATASET_WORDS * d + 2]!;
    return n;
  }

  /** The ledger slots of the jobs that take `dataset`'s events from `zone`: a frozen array, shared by every caller in this thread. */
  slotsFor(dataset: string, zone: number): readonly number[] {
    if (!(zone > 0 && Number.isSafeInteger(zone))) return EMPTY;
    const d = dataset === DATASETS[0] ? 0 : (DATASETS as readonly string[]).indexOf(dataset);
    if (d < 0) return EMPTY;
    const words = this.words;
    const record = HEADER_WORDS + DATASET_WORDS * d;
    const keysAt = words[record]!;
    const mask = words[record + 1]! - 1;
    const valuesAt = words[record + 3]!;
    const keys = this.keys;
    for (let i = hash(zone, mask); ; i = (i + 1) & mask) {
      const key = keys[keysAt + i]!;
      if (key === 0) return EMPTY;
      if (key === zone) return this.listOf(words[valuesAt + i]!);
    }
  }

  private listOf(value: number): readonly number[] {
    if (value >= 0) return this.singles[value] ?? this.single(value);
    let list = this.lists.get(value);
    if (list === undefined) {
      const at = -value - 1;
      list = Object.freeze(Array.from(this.words.subarray(at + 1, at + 1 + this.words[at]!)));
      this.lists.set(value, list);
    }
    return list;
  }

  private single(slot: number): readonly number[] {
    // Filled up to `slot` first, so the array stays packed (holey arrays past their length go to dictionary mode).
    while (this.singles.length < slot) this.singles.push(undefined);
    const list = Object.freeze([slot]);
    this.singles[slot] = list;
    return list;
  }
}
