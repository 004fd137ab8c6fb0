/**
 * Shared by both Buftee implementations (the embedded one and the NATS one): their side of the
 * link with Logpush (messages.ts, Restarts): the ack ring, the life and nonce in shared memory, and
 * the RESYNC answers to HELLOs, sent before any batch.
 */
import type { ActorRef } from '../../runtime/actor-ref.js';
import type { RecordHandler } from '../../native/ring-consumer.js';
import { SharedGauges } from '../../native/shared-gauges.js';
import { ACK_BYTES, LINK_BUFTEE_LIFE, LINK_HELLO_NONCE, RESYNC_BYTES, TYPE_ACK, TYPE_HELLO, TYPE_RESYNC, readAck, type AckRecord } from '../messages.js';

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

/**
 * The handler of Buftee's ack ring: a HELLO goes to `hello` with its nonce, an ACK is read into
 * `ack` (reused: no allocation per record) and goes to `onAck`; any other type is a bug.
 */
export function ackRingHandler(ack: AckRecord, hello: (nonce: number) => void, onAck: (ack: AckRecord) => void): RecordHandler {
  return (type, bytes, at) => {
    if (type === TYPE_HELLO) {
      hello(new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true));
      return;
    }
    if (type !== TYPE_ACK) throw new Error(`buftee's ack ring carried a record of unknown type ${type}`);
    onAck(readAck(new DataView(bytes.buffer, bytes.byteOffset + at, ACK_BYTES), 0, ack));
  };
}

/**
 * A starting Buftee publishes its life (Logpush learns at once that batches of earlier lives have
 * nobody to resend them) and answers the running Logpush's HELLO, which may have died with a
 * predecessor that read it.
 */
export function joinLink(link: SharedArrayBuffer | undefined, life: number, hello: (nonce: number) => void): void {
  if (link === undefined) return;
  const gauges = SharedGauges.attach(link);
  gauges.store(LINK_BUFTEE_LIFE, life);
  hello(gauges.load(LINK_HELLO_NONCE) >>> 0);
}
