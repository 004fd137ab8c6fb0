/**
 * Where Buftee's copies of batches live: ArrayBuffers in size classes, taken for a batch as it is
 * appended and given back once every consumer has acked it, so a steady flow of batches allocates
 * nothing. A fresh ArrayBuffer per batch (`data.slice()`) was external memory V8 answers with a
 * full mark-compact every second or so (bench:scale's hot set: ~30 in 12 s); each one marks the
 * whole heap, so at 100,000 buffers Buftee spent more of its time in GC than appending.
 *
 * Size classes: 8 per power of two (a class is the size rounded up to a multiple of 1/8 of its
 * power of two, at least 64 bytes), so a batch holds at most 1/8 more memory than its bytes.
 * Batches over MAX_POOLED_BYTES get an ArrayBuffer of their own and are not kept.
 *
 * Bounded: free buffers are kept while their bytes stay under `maxFreeBytes`; past it, a returned
 * buffer is left to the GC. Free buffers are memory no byte budget counts (like an allocator's
 * free list); `freeBytes` says how much.
 *
 * The contract: a batch's data is Buftee's until it is released (`give`); whoever read it must be
 * done with it by then (Buftee's actor copies a batch into Logpush's ring in the turn it reads it).
 */

/** Batches above this size are allocated on their own and never pooled. */
export const MAX_POOLED_BYTES = 1 << 20;
const MIN_CLASS_BYTES = 64;
/** Default bound on free bytes kept. */
export const DEFAULT_MAX_FREE_BYTES = 32 << 20;

/** The class (buffer size) that holds `bytes`: rounded up to an eighth of its power of two, at least 64. */
export function classBytes(bytes: number): number {
  if (bytes <= MIN_CLASS_BYTES) return MIN_CLASS_BYTES;
  const step = 2 ** Math.floor(Math.log2(bytes)) / 8;
  return Math.ceil(bytes / step) * step;
}

export class BatchPool {
  /** Free ArrayBuffers by their size. */
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes_ = 0;
  readonly maxFreeBytes: number;
  /** Buffers taken from the free lists, and made new: for stats and tests. */
  reused = 0;
  allocated = 0;

  constructor(maxFreeBytes = DEFAULT_MAX_FREE_BYTES) {
    if (!(Number.isSafeInteger(maxFreeBytes) && maxFreeBytes >= 0)) throw new RangeError(`maxFreeBytes must be a non-negative integer, got ${maxFreeBytes}`);
    this.maxFreeBytes = maxFreeBytes;
  }

  /** A copy of `data` in a buffer of the pool (or of its own, past MAX_POOLED_BYTES). */
  copy(data: Uint8Array): Uint8Array {
    const n = data.byteLength;
    if (n > MAX_POOLED_BYTES) {
      this.allocated++;
      return data.slice();
    }
    const size = classBytes(n);
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer === undefined) {
      buffer = new ArrayBuffer(size);
      this.allocated++;
    } else {
      this.freeBytes_ -= size;
      this.reused++;
    }
    const out = new Uint8Array(buffer, 0, n);
    out.set(data);
    return out;
  }

  /** Takes back a batch's data (from `copy`); it must not be read again. Others are ignored. */
  give(data: Uint8Array): void {
    const buffer = data.buffer;
    const size = buffer.byteLength;
    if (!(buffer instanceof ArrayBuffer) || data.byteOffset !== 0 || size > MAX_POOLED_BYTES || classBytes(size) !== size) return;
    if (this.freeBytes_ + size > this.maxFreeBytes) return;
    let list = this.free.get(size);
    if (list === undefined) {
      list = [];
      this.free.set(size, list);
    }
    list.push(buffer);
    this.freeBytes_ += size;
  }

  get freeBytes(): number {
    return this.freeBytes_;
  }
}
