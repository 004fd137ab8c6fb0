/**
 * The NATS publisher's unacknowledged publishes, in shared memory the owner keeps, so that a
 * successor learns what its crashed predecessor had in flight: for each entry it publishes an empty
 * tombstone with the batch's message id; JetStream's de-duplication says whether the batch was
 * stored (the tombstone is a duplicate), and otherwise the tombstone keeps the batch out for good.
 * The batch is counted as stored or as `crashed`. One writer at a time (the running Buftee).
 *
 * Layout: a Float64Array of `capacity` entries × 4 words: state (0 free, 1 job batch, 2 surplus),
 * slot (a job's ledger slot, or the zone id for surplus), events, batch id (Logreceiver's).
 */

export const FREE = 0;
export const JOB = 1;
export const SURPLUS = 2;
const WORDS = 4;

export interface InFlightEntry {
  index: number;
  kind: typeof JOB | typeof SURPLUS;
  slot: number;
  events: number;
  batchId: number;
}

export function createInFlight(capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer(capacity * WORDS * 8);
}

export class InFlightTable {
  private readonly words: Float64Array;
  readonly capacity: number;
  private readonly free: number[] = [];

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Float64Array(buffer);
    this.capacity = this.words.length / WORDS;
    for (let i = this.capacity - 1; i >= 0; i--) if (this.words[i * WORDS] === FREE) this.free.push(i);
  }

  /** What a predecessor left in flight (read once, at start). */
  leftOver(): InFlightEntry[] {
    const out: InFlightEntry[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const w = i * WORDS;
      const kind = this.words[w];
      if (kind === JOB || kind === SURPLUS) out.push({ index: i, kind, slot: this.words[w + 1]!, events: this.words[w + 2]!, batchId: this.words[w + 3]! });
    }
    return out;
  }

  get available(): number {
    return this.free.length;
  }

  /** Records a publish; -1 when the table is full. The state word is written last. */
  take(kind: typeof JOB | typeof SURPLUS, slot: number, events: number, batchId: number): number {
    const i = this.free.pop();
    if (i === undefined) return -1;
    const w = i * WORDS;
    this.words[w + 1] = slot;
    this.words[w + 2] = events;
    this.words[w + 3] = batchId;
    this.words[w] = kind;
    return i;
  }

  /** The publish is settled (stored, or counted): the entry is free again. */
  release(index: number): void {
    this.words[index * WORDS] = FREE;
    this.free.push(index);
  }
}
