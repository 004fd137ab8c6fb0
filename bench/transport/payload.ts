/**
 * The records every transport carries: a fixed byte pattern with the producer's sequence number
 * stamped in the first and the last 4 bytes. The consumer knows the pattern too, so the checksum
 * rows can check the whole record, not only its two sequence words.
 */

/** A record of `bytes` bytes (a multiple of 8) in an ArrayBuffer of its own, filled with the pattern. */
export function makePayload(bytes: number): Uint8Array {
  if (!(bytes >= 8 && bytes % 8 === 0)) throw new RangeError(`record size must be a multiple of 8 from 8 up, got ${bytes}`);
  // Its own buffer: structured clone copies a view's whole buffer, not just the view.
  const payload = new Uint8Array(new ArrayBuffer(bytes));
  for (let i = 0; i < bytes; i++) payload[i] = (i * 31 + 7) & 0xff;
  return payload;
}

/** Writes `seq` into the first and the last word of a record. */
export function stamp(words: Int32Array, seq: number): void {
  words[0] = seq;
  words[words.length - 1] = seq;
}

/** The sum of the pattern's words between the two sequence words, as `wordSum` computes it. */
export function patternInnerSum(bytes: number): number {
  const words = new Int32Array(makePayload(bytes).buffer);
  return (wordSum(words, words.length) - words[0]! - words[words.length - 1]!) | 0;
}

/**
 * The sum of the first `count` Int32 words, modulo 2^32. Unrolled by 8 into four accumulators so
 * the adds do not wait on one another.
 */
export function wordSum(words: Int32Array, count: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = 0;
  const end = count & ~7;
  for (; i < end; i += 8) {
    a = (a + words[i]! + words[i + 4]!) | 0;
    b = (b + words[i + 1]! + words[i + 5]!) | 0;
    c = (c + words[i + 2]! + words[i + 6]!) | 0;
    d = (d + words[i + 3]! + words[i + 7]!) | 0;
  }
  for (; i < count; i++) a = (a + words[i]!) | 0;
  return (a + b + c + d) | 0;
}
