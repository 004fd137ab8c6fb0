/**
 * Shared by both Buftee implementations (the embedded one and the NATS one): the RESYNC answers
 * to Logpush's HELLOs (messages.ts, Restarts), sent before any batch.
 */
import type { ActorRef } from '../../runtime/actor-ref.js';
import { RESYNC_BYTES, TYPE_RESYNC } from '../messages.js';

/** Sends each pending RESYNC (`nonces`, oldest first, removed as sent); false when Logpush's mailbox is full. */
export function sendResyncs(ref: ActorRef, nonces: number[], life: number): boolean {
  while (nonces.length > 0) {
    const claim = ref.tryClaim(RESYNC_BYTES, TYPE_RESYNC);
    if (claim === null) return false;
    const view = new DataView(claim.bytes.buffer, claim.bytes.byteOffset + claim.offset, RESYNC_BYTES);
    view.setUint32(0, nonces[0]!, true);
    view.setUint32(4, life, true);
    ref.commit();
    nonces.shift();
  }
  return true;
}
