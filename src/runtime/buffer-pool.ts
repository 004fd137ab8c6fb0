/**
 * Byte buffers that are given back when their owner is done, for a steady flow of batches or
 * objects that would otherwise allocate an ArrayBuffer each: ArrayBuffers in size classes, taken
 * from a free list of the class and given back to it.
 *
 * Why: a fresh ArrayBuffer per batch is external memory, and V8 answers external memory growth
 * with full mark-compacts, each one marking the whole heap. Buftee copying each batch into
 * `data.slice()` did ~30 of them in 12 s (bench:scale's hot set); at 100,000 buffers the heap is
 * large, and Buftee spent more time in GC than appending.
 *
 * Size classes: 8 per power of two (a size is rounded up to a multiple of 1/8 of its power of
 * two; 64 bytes at least), so a buffer is at most 1/8 larger than what was asked. Sizes over
 * `maxPooledBytes` get an ArrayBuffer of their own and are not kept.
 *
 * Bounded: free buffers are kept while their bytes stay under `maxFreeBytes` and their number under
 * `maxFreeBuffers`; past either, the class with the most free buffers gives some up to the GC to
 * make room for the one given back (or, when that class is its own, the one given back goes). The
 * count matters as much
 * as the bytes: each free buffer is an object every full GC marks, and 128 MiB of 240-byte batches
 * would be half a million of them (after bench:scale's warm-up of 100,000 jobs Buftee's pool kept
 * ~50,000). Not lower: at 32,768 the all-active scale run at 10,000 jobs (several batches held per
 * job until its object is acked) made buffers anew that the pool had let go, median 115 against
 * 95 CPU µs an event over five runs each (noisy).
 *
 * And `trim()`, called every few seconds by the owner, lets go of what sat unused since the last
 * call (the lowest the free bytes went meanwhile: the part no take needed), so a burst's buffers do
 * not stay after it. Free buffers are memory no byte budget
 * counts (like an allocator's free list); `freeBytes` says how much.
 *
 * Why the bound is large: batches and objects come back in bursts, as objects are put once per
 * upload interval; with room for only a third of an interval's bytes, two thirds of the next
 * interval's buffers were made new again (bench:scale's hot set, 100,000 jobs).
 *
 * The contract: whoever gives a buffer back must be done with it, and so must everyone it lent it
 * to; giving one back twice hands it to two owners. Buffers this pool did not make are ignored by
 * `give`: Node's small Buffers share 8 KiB slabs, and taking one of those in (a gzip result
 * at the start of its slab) handed memory Node still uses to the next batch.
 */

const MIN_CLASS_BYTES = 64;
/** How often an owner calls `trim()`: about an upload interval (30 s by default), a burst's period. */
export const POOL_TRIM_MS = 30_000;

/** The class (buffer size) that holds `bytes`: rounded up to an eighth of its power of two, at least 64. */
export function classBytes(bytes: number): number {
  if (bytes <= MIN_CLASS_BYTES) return MIN_CLASS_BYTES;
  const step = 2 ** Math.floor(Math.log2(bytes)) / 8;
  return Math.ceil(bytes / step) * step;
}

export interface BufferPoolOptions {
  /** Free bytes kept for reuse, at most. Default 128 MiB. */
  maxFreeBytes?: number;
  /** Larger buffers are made for one use and not kept. Default 1 MiB. */
  maxPooledBytes?: number;
  /** Free buffers kept for reuse, at most. Default 131,072. */
  maxFreeBuffers?: number;
  /**
   * When a size's class has no free buffer, a free one of up to this many classes larger is taken
   * instead (8 classes: up to twice the size). Default 0: for owners whose byte budgets count what
   * they store, not the buffers it sits in. See Logpush's pool for why an owner sets it.
   */
  largerClasses?: number;
}

export class BufferPool {
  readonly maxFreeBytes: number;
  readonly maxPooledBytes: number;
  readonly maxFreeBuffers: number;
  readonly largerClasses: number;
  /** Free ArrayBuffers by their size. */
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes_ = 0;
  private freeCount = 0;
  /** The buffers this pool made: only those are taken back. */
  private readonly own = new WeakSet<ArrayBuffer>();
  /** The fewest free bytes since the last trim. */
  private lowWater = 0;
  /** Buffers taken from the free lists, and made new: for stats and tests. */
  reused = 0;
  allocated = 0;

  constructor(options: BufferPoolOptions = {}) {
    const { maxFreeBytes = 128 << 20, maxPooledBytes = 1 << 20, maxFreeBuffers = 131_072, largerClasses = 0 } = options;
    for (const [name, value] of Object.entries({ maxFreeBytes, maxPooledBytes, maxFreeBuffers, largerClasses })) {
      if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`buffer pool ${name} must be a non-negative integer, got ${value}`);
    }
    if (largerClasses > 64) throw new RangeError(`buffer pool largerClasses must be at most 64 (8 times the size), got ${largerClasses}`);
    this.maxFreeBytes = maxFreeBytes;
    this.maxPooledBytes = maxPooledBytes;
    this.maxFreeBuffers = maxFreeBuffers;
    this.largerClasses = largerClasses;
  }

  /** An ArrayBuffer of at least `bytes` (its class's size, or exactly `bytes` past maxPooledBytes); its contents are not cleared. */
  take(bytes: number): ArrayBuffer {
    if (bytes > this.maxPooledBytes) {
      this.allocated++;
      return new ArrayBuffer(bytes);
    }
    let size = classBytes(bytes);
    let buffer = this.free.get(size)?.pop();
    for (let up = 0; buffer === undefined && up < this.largerClasses; up++) {
      const larger = classBytes(size + 1);
      if (larger > this.maxPooledBytes) break;
      size = larger;
      buffer = this.free.get(size)?.pop();
    }
    if (buffer === undefined) {
      size = classBytes(bytes);
      this.allocated++;
      const made = new ArrayBuffer(size);
      this.own.add(made);
      return made;
    }
    this.freeBytes_ -= size;
    this.freeCount--;
    if (this.freeBytes_ < this.lowWater) this.lowWater = this.freeBytes_;
    this.reused++;
    return buffer;
  }

  /** A copy of `data` in a buffer of the pool. */
  copy(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.take(data.byteLength), 0, data.byteLength);
    out.set(data);
    return out;
  }

  /** Takes back the buffer under `view` (from `take` or `copy`): it must not be used again. */
  give(view: ArrayBufferView): void {
    const buffer = view.buffer;
    const size = buffer.byteLength;
    if (!(buffer instanceof ArrayBuffer) || !this.own.has(buffer) || view.byteOffset !== 0) return;
    if (size > this.maxFreeBytes || this.maxFreeBuffers === 0) return;
    // Full: room is made by letting go of buffers of the class with the most free ones, not by
    // refusing this one. What comes back now is what takes ask for now; refused, a pool filled
    // during one phase (growth steps of small objects) kept that phase's sizes and let every
    // later size go (Logpush's pool sat full while 45% of its takes made new buffers).
    while (this.freeBytes_ + size > this.maxFreeBytes || this.freeCount >= this.maxFreeBuffers) {
      const plentiful = this.mostPlentifulClass();
      // This buffer's own class has the most: keeping it instead of one of them changes nothing.
      if (plentiful === 0 || plentiful === size) return;
      // From that class until there is room or it is empty: one scan of the classes per class
      // emptied, not per buffer (a large buffer may need many small ones to go).
      const victims = this.free.get(plentiful)!;
      while ((this.freeBytes_ + size > this.maxFreeBytes || this.freeCount >= this.maxFreeBuffers) && victims.length > 0) {
        victims.pop();
        this.freeBytes_ -= plentiful;
        this.freeCount--;
      }
      if (this.freeBytes_ < this.lowWater) this.lowWater = this.freeBytes_;
    }
    let list = this.free.get(size);
    if (list === undefined) {
      list = [];
      this.free.set(size, list);
    }
    list.push(buffer);
    this.freeBytes_ += size;
    this.freeCount++;
  }

  /** The size of the class with the most free buffers (ties: the larger class), or 0 when none is free. */
  private mostPlentifulClass(): number {
    let best = 0;
    let most = 0;
    for (const [size, list] of this.free) {
      if (list.length > most || (list.length === most && most > 0 && size > best)) {
        best = size;
        most = list.length;
      }
    }
    return best;
  }

  /** Lets go of the free bytes no take needed since the last trim (at least that many, whole buffers). Returns the bytes let go. */
  trim(): number {
    let excess = this.lowWater;
    let released = 0;
    for (const [size, list] of this.free) {
      while (excess > 0 && list.length > 0) {
        list.pop();
        this.freeCount--;
        excess -= size;
        released += size;
      }
      if (list.length === 0) this.free.delete(size);
      if (excess <= 0) break;
    }
    this.freeBytes_ -= released;
    this.lowWater = this.freeBytes_;
    return released;
  }

  get freeBytes(): number {
    return this.freeBytes_;
  }

  /** Free buffers held. */
  get freeBuffers(): number {
    return this.freeCount;
  }
}
