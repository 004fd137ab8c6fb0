import { describe, expect, it } from 'vitest';
import { ActorRef } from '../../src/runtime/actor-ref.js';
import { createRing } from '../../src/native/ring.js';
import { RingConsumer } from '../../src/native/ring-consumer.js';

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A mailbox ref and its receiver's end, the mailbox filled with 100-byte records until one more does not fit. */
function fullMailbox(): { ref: ActorRef; consumer: RingConsumer; records: number } {
  const ring = createRing({ capacity: 4096 });
  const ref = new ActorRef('receiver', ring);
  const consumer = new RingConsumer(ring);
  let records = 0;
  while (ref.trySend(new Uint8Array(100).fill(records), 7)) records++;
  return { ref, consumer, records };
}

describe('ActorRef.claim', () => {
  it('waits while the mailbox is full and claims once the receiver releases, for a zero-copy write the receiver reads', async () => {
    const { ref, consumer, records } = fullMailbox();
    expect(ref.tryClaim(100, 7)).toBeNull();
    let claimed: { bytes: Uint8Array; offset: number } | null | undefined;
    const pending = ref.claim(100, 9, 60_000).then((c) => (claimed = c));
    await turns(20);
    // Still full: nothing claimed yet.
    expect(claimed).toBeUndefined();
    let first = -1;
    consumer.read((_type, bytes, offset) => (first = bytes[offset]!), 1);
    consumer.release();
    await pending;
    expect(claimed).not.toBeNull();
    claimed!.bytes.fill(0xab, claimed!.offset, claimed!.offset + 100);
    ref.commit();
    const seen: { type: number; value: number }[] = [];
    consumer.read((type, bytes, offset) => seen.push({ type, value: bytes[offset]! }));
    expect(first).toBe(0);
    // The records sent before, in order, then the claimed one.
    expect(seen).toHaveLength(records);
    expect(seen.slice(0, -1).map((s) => s.value)).toEqual(Array.from({ length: records - 1 }, (_, i) => i + 1));
    expect(seen[seen.length - 1]).toEqual({ type: 9, value: 0xab });
  });

  it('answers null when the mailbox stays full for timeoutMs', async () => {
    const { ref } = fullMailbox();
    await expect(ref.claim(100, 9, 30)).resolves.toBeNull();
  });
});
