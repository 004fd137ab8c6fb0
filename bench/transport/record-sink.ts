/**
 * The consumer's work per record, the same for every transport: copy the payload out into a
 * private scratch buffer (Uint8Array.set touches every byte, as the real decode path does before
 * msgpackr runs) and check the sequence words against the next number expected from its producer.
 * With `checksum`, also sum every word and check the sum: what a full JS checksum would cost.
 */

import { patternInnerSum, wordSum } from './payload.js';

export class RecordSink {
  /** The private copy of the current record; an ArrayBuffer is 8-byte aligned. */
  readonly scratch: Uint8Array;
  private readonly words: Int32Array;
  /** Next sequence number expected from each producer. */
  private readonly expected: Int32Array;
  private readonly checksum: boolean;
  private readonly innerSum: number;
  errors = 0;
  firstError = '';

  constructor(bytes: number, producers: number, checksum: boolean) {
    const buffer = new ArrayBuffer(bytes);
    this.scratch = new Uint8Array(buffer);
    this.words = new Int32Array(buffer);
    this.expected = new Int32Array(producers);
    this.checksum = checksum;
    this.innerSum = checksum ? patternInnerSum(bytes) : 0;
  }

  /** Copies a record out of `view` (exactly the payload) and checks it. */
  accept(view: Uint8Array, producer: number): void {
    this.scratch.set(view);
    this.check(view.length, producer);
  }

  /** Checks the record already copied into `scratch` (ringbuf.js pops straight into it). */
  check(length: number, producer: number): void {
    const words = this.words;
    const last = (length >> 2) - 1;
    if (producer < 0 || producer >= this.expected.length) {
      this.fail(`record from unknown producer ${producer} (${this.expected.length} producers)`);
      return;
    }
    const seq = this.expected[producer]!;
    const head = words[0]!;
    const tail = words[last]!;
    if (head !== seq || tail !== seq) {
      this.fail(`producer ${producer}: expected sequence ${seq}, record of ${length} bytes has ${head} first and ${tail} last`);
      // Resynchronises on the record's own number, so one loss counts once.
      this.expected[producer] = (head + 1) | 0;
      return;
    }
    this.expected[producer] = (seq + 1) | 0;
    if (this.checksum) {
      const sum = wordSum(words, last + 1);
      const want = (this.innerSum + seq + seq) | 0;
      if (sum !== want) this.fail(`producer ${producer}: record ${seq} of ${length} bytes has word sum ${sum}, expected ${want}`);
    }
  }

  private fail(message: string): void {
    if (this.errors === 0) this.firstError = message;
    this.errors++;
  }
}
