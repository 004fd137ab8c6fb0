/**
 * What the pipeline's stages send each other through their rings: record types, and the small
 * fixed headers in front of a batch where a stage needs more than the batch itself says.
 *
 *   source → logfwdr        TYPE_EVENTS          a batch: dataset, per event its zone (key), timestamp, payload
 *   logfwdr → logreceiver   TYPE_EVENTS          the events to forward, configured ones
 *                           TYPE_SURPLUS         fail-open events for zones without a job (shed first)
 *   logreceiver → buftee    TYPE_JOB_BATCH       [JobHeader][batch]: one job's events
 *                                                (JobHeader.offset: Logreceiver's batch id, unique in the process)
 *                           TYPE_ZONE_BATCH      [JobHeader][batch]: fail-open surplus of one zone
 *                                                (JobHeader.slot holds the zone id)
 *   buftee → logpush        TYPE_JOB_BATCH       [JobHeader][batch], JobHeader.offset = Buftee's offset
 *                           TYPE_RESYNC          [nonce u32 | life u32]: the answer to Logpush's HELLO
 *                                                `nonce`; every batch after it is re-sent from Buftee's cursors
 *   logpush → buftee        TYPE_ACK             [AckRecord]: a job's batches up to an offset are done
 *                           TYPE_HELLO           [nonce u32]: a new Logpush
 *
 * Restarts: a new Logpush picks a nonce, publishes it in shared memory (LinkGauges) and says HELLO;
 * it drops every batch until the RESYNC with its nonce, after which Buftee re-sends everything not
 * acked. A Buftee answers each nonce once, whether it read the HELLO or found the nonce in shared
 * memory at start (its predecessor may have read the HELLO and died). A dropped batch from an
 * earlier Buftee life than the RESYNC's died with that Buftee: Logpush counts it `crashed`.
 * Buftee's offsets start at life × OFFSET_LIFE (life = its restart count), so an ack meant for a
 * dead Buftee never matches a batch of its successor.
 *
 * Lent batches: what Logpush has from the living Buftee (received, not complete) is counted in the
 * ledger's `lent` word, and LINK_LENT_LIFE names that Buftee's life. A Buftee that answers a HELLO
 * while LINK_LENT_LIFE is its own life takes them back (held in its own word, sent again) and lets
 * `lent` go, in the same synchronous step. A new Logpush leaves `lent` alone until the RESYNC for
 * its nonce: from a later life than LINK_LENT_LIFE, the Buftee that lent them died before taking
 * them back, and the new Logpush counts them `crashed`. A running Logpush that learns of a new
 * Buftee life moves what it has of older lives from `lent` to its own `logpush` word (orphans).
 * Without this, a Logpush killed before it noticed a Buftee death left those batches in flight.
 *
 * JobHeader (16 bytes, little-endian):  slot u32 | events u32 | offset f64
 * AckRecord (24 bytes, little-endian):  slot u32 | events u32 | offset f64 | delivered u32 | failed u32
 *
 * `slot` is the job's ledger slot (ledger.ts), which names the job in every thread.
 */

export const TYPE_EVENTS = 1;
export const TYPE_SURPLUS = 2;
export const TYPE_JOB_BATCH = 3;
export const TYPE_ACK = 4;
export const TYPE_ZONE_BATCH = 5;
/** logpush → buftee: a new Logpush incarnation; Buftee re-sends what was not acknowledged. */
export const TYPE_HELLO = 6;
/** buftee → logpush: see the header comment. */
export const TYPE_RESYNC = 7;
export const RESYNC_BYTES = 8;
/** The link gauges (src/native/shared-gauges.ts): the nonce of the Logpush now running. */
export const LINK_HELLO_NONCE = 0;
/** The link gauges: the life (restart count) of the Buftee now running. */
export const LINK_BUFTEE_LIFE = 1;
/** The link gauges: the Buftee life whose batches Logpush counts in the ledger's `lent` word (see Lent batches). */
export const LINK_LENT_LIFE = 2;
export const LINK_GAUGES = 3;
/** The generator's gate (GeneratorArgs.gate, one gauge): 1 when it may run. */
export const GATE_OPEN = 0;
/** Offsets of one Buftee incarnation (2^40 batches a life): restart r starts at r × OFFSET_LIFE. */
export const OFFSET_LIFE = 2 ** 40;

export const JOB_HEADER_BYTES = 16;
const SLOT_OFFSET = 0;
const EVENTS_OFFSET = 4;
const OFFSET_OFFSET = 8;

export const ACK_BYTES = 24;
const DELIVERED_OFFSET = 16;
const FAILED_OFFSET = 20;

/** Copies `batch` behind a job header into a claimed slot of `bytes` at `offset`. */
export function writeJobBatch(bytes: Uint8Array, offset: number, header: JobHeader, batch: Uint8Array): void {
  writeJobHeader(new DataView(bytes.buffer, bytes.byteOffset + offset, JOB_HEADER_BYTES), 0, header.slot, header.events, header.offset);
  bytes.set(batch, offset + JOB_HEADER_BYTES);
}

export interface JobHeader {
  slot: number;
  events: number;
  offset: number;
}

export function writeJobHeader(view: DataView, at: number, slot: number, events: number, offset: number): void {
  view.setUint32(at + SLOT_OFFSET, slot, true);
  view.setUint32(at + EVENTS_OFFSET, events, true);
  view.setFloat64(at + OFFSET_OFFSET, offset, true);
}

/** Reads a header into `out` (reused by the caller: no allocation per batch). */
export function readJobHeader(view: DataView, at: number, out: JobHeader): JobHeader {
  out.slot = view.getUint32(at + SLOT_OFFSET, true);
  out.events = view.getUint32(at + EVENTS_OFFSET, true);
  out.offset = view.getFloat64(at + OFFSET_OFFSET, true);
  return out;
}

export interface AckRecord extends JobHeader {
  delivered: number;
  failed: number;
}

export function writeAck(view: DataView, at: number, ack: AckRecord): void {
  writeJobHeader(view, at, ack.slot, ack.events, ack.offset);
  view.setUint32(at + DELIVERED_OFFSET, ack.delivered, true);
  view.setUint32(at + FAILED_OFFSET, ack.failed, true);
}

export function readAck(view: DataView, at: number, out: AckRecord): AckRecord {
  readJobHeader(view, at, out);
  out.delivered = view.getUint32(at + DELIVERED_OFFSET, true);
  out.failed = view.getUint32(at + FAILED_OFFSET, true);
  return out;
}
