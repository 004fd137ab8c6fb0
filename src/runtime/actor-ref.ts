/**
 * A reference to another actor's mailbox: the sending side of one ring that the supervisor created
 * for this (sender, receiver) pair. Rings belong to the supervisor side, so a ref stays valid
 * across restarts of either actor.
 */

import { RingProducer } from '../native/ring-producer.js';

/** Record type of a message sent through `send` without an explicit type. */
export const DEFAULT_MESSAGE_TYPE = 1;

export class ActorRef {
  readonly target: string;
  private readonly producer: RingProducer;

  constructor(target: string, ring: SharedArrayBuffer) {
    this.target = target;
    this.producer = new RingProducer(ring);
  }

  /** Largest message this mailbox takes, in bytes. */
  get maxMessageBytes(): number {
    return this.producer.ring.maxPayload;
  }

  /** Copies `message` into the mailbox; false when it is full (the caller decides what to do). */
  trySend(message: Uint8Array, type: number = DEFAULT_MESSAGE_TYPE): boolean {
    return this.producer.tryWrite(type, message);
  }

  /**
   * Copies `message` into the mailbox, waiting while it is full: this is backpressure, the
   * sender slows to the receiver's pace. Rejects after `timeoutMs` with the mailbox still full.
   */
  async send(message: Uint8Array, type: number = DEFAULT_MESSAGE_TYPE, timeoutMs = 30_000): Promise<void> {
    if (this.producer.tryWrite(type, message)) return;
    const offset = await this.producer.claim(type, message.length, timeoutMs);
    if (offset < 0) throw new Error(`mailbox of ${this.target} stayed full for ${timeoutMs} ms`);
    this.producer.ring.bytes.set(message, offset);
    this.producer.commit();
  }

  /**
   * Zero-copy send: claims `length` bytes and returns the mailbox's bytes and the offset to write
   * at, or null when full. Follow with `commit(actualLength)`.
   */
  tryClaim(length: number, type: number = DEFAULT_MESSAGE_TYPE): { bytes: Uint8Array; offset: number } | null {
    const offset = this.producer.tryClaim(type, length);
    return offset < 0 ? null : { bytes: this.producer.ring.bytes, offset };
  }

  /**
   * `tryClaim`, waiting while the mailbox is full: a short spin, then asleep on the ring's space
   * doorbell, woken by the receiver's release. null when it stayed full for `timeoutMs`.
   */
  async claim(length: number, type: number = DEFAULT_MESSAGE_TYPE, timeoutMs = 30_000): Promise<{ bytes: Uint8Array; offset: number } | null> {
    const offset = await this.producer.claim(type, length, timeoutMs);
    return offset < 0 ? null : { bytes: this.producer.ring.bytes, offset };
  }

  commit(length?: number): void {
    this.producer.commit(length);
  }

  /**
   * Whether `records` messages of up to `bytes` each fit now: a sender that must not stop between
   * its first effect and its last checks this before either (no record wraps, so the free space
   * must hold one record more than asked for).
   */
  hasRoom(bytes: number, records = 1): boolean {
    const ring = this.producer.ring;
    const need = Math.min(ring.capacity, (records + 1) * (bytes + 64));
    return ring.capacity - ring.occupiedBytes >= need;
  }

  /** Resolves once `hasRoom(bytes, records)`, sleeping on the ring's space doorbell; rejects after `timeoutMs`. */
  async waitForRoom(bytes: number, records = 1, timeoutMs = 60_000): Promise<void> {
    const until = performance.now() + timeoutMs;
    const doorbell = this.producer.ring.spaceDoorbell;
    for (;;) {
      if (this.hasRoom(bytes, records)) return;
      const remaining = until - performance.now();
      if (remaining <= 0) throw new Error(`mailbox of ${this.target} stayed full for ${timeoutMs} ms`);
      const seq = doorbell.prepare();
      // Re-checked after announcing the sleep: a release in between rings the doorbell.
      if (this.hasRoom(bytes, records)) return;
      await doorbell.wait(seq, Math.min(remaining, 1000));
    }
  }

  /** Bytes waiting in the receiver's mailbox from this sender. */
  get pendingBytes(): number {
    return this.producer.ring.occupiedBytes;
  }
}
