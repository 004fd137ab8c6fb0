/**
 * What the network sources (tcp-source.ts, http-source.ts) feed: a sink with the shape of
 * `Pipeline.ingest`, so the pipeline itself is one and a test passes a fake. The sink validates
 * each event (toEvent) and counts its own refusals in the ledger; what a source refuses before an
 * event exists (a line that is not JSON, a line or body too large, a body of an unknown type)
 * the sink never sees, so the source reports it through `onRefused`, which the pipeline wiring
 * points at the ledger (`ledgerRefusals`).
 */

import type { AddressInfo, Server as NetServer } from 'node:net';
import type { DropReason } from '../job.js';
import { NONE_SLOT, type LedgerView } from '../ledger.js';

export interface IngestResult {
  accepted: number;
  refused: number;
  reasons: Record<string, number>;
}

/** `Pipeline` is one: `ingest(dataset, events)` waits while Logfwdr's mailbox is full. */
export interface IngestSink {
  ingest(dataset: string, events: readonly unknown[]): Promise<IngestResult>;
}

/** Refusals a source makes before the sink sees an event. */
export type SourceRefusal = Extract<DropReason, 'malformed' | 'oversized' | 'unconfigured'>;

/** Called once per batch of refusals of one reason (n >= 1), never per event. */
export type OnRefused = (reason: SourceRefusal, n: number) => void;

/**
 * Counts a source's refusals in the ledger as `Pipeline.ingest` counts its own: under "-" (no job
 * can be known for an event that never was one), ingested and dropped together, so it balances.
 */
export function ledgerRefusals(ledger: Pick<LedgerView, 'ingest' | 'drop'>): OnRefused {
  return (reason, n) => {
    ledger.ingest(NONE_SLOT, n);
    ledger.drop(NONE_SLOT, reason, n);
  };
}

const exclusives = new WeakMap<IngestSink, IngestSink>();

/**
 * The sink, called one call at a time (in call order) by every source that goes through this
 * function with the same sink object: the sources always do.
 *
 * Why: `Pipeline.ingest` builds batches in one shared BatchWriter, and the view its finish()
 * returns ends at the next begin(). When Logfwdr's mailbox is full, a call waits inside
 * `ref.send` holding that view, and a concurrent call's begin() overwrites it: 16 concurrent
 * calls of 8,000 events into a full mailbox delivered 37,296 of 128,000 events, 72,609 were
 * counted malformed and 18,095 were in no ledger count at all. Serialized, the main thread loses
 * nothing: encoding is on this thread anyway, and with the mailbox full every call would wait.
 * The queue holds one batch per caller, so it is bounded by the sources' own limits
 * (connections, requests in flight).
 */
export function exclusiveSink(sink: IngestSink): IngestSink {
  let exclusive = exclusives.get(sink);
  if (exclusive === undefined) {
    let tail: Promise<unknown> = Promise.resolve();
    exclusive = {
      ingest(dataset, events) {
        const call = tail.then(() => sink.ingest(dataset, events));
        tail = call.then(
          () => undefined,
          () => undefined,
        );
        return call;
      },
    };
    exclusives.set(sink, exclusive);
  }
  return exclusive;
}

/** Adds `n` to `counts[reason]`. */
export function countInto(counts: Record<string, number>, reason: string, n: number): void {
  if (n > 0) counts[reason] = (counts[reason] ?? 0) + n;
}

/** Listens on `port` at `host` (a server of node:net or node:http); rejects on EADDRINUSE and the like. */
export function listenOn(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The port a listening server is bound to (the ephemeral one when it asked for 0). */
export function boundPort(server: NetServer): number | null {
  const address = server.address() as AddressInfo | null;
  return address === null ? null : address.port;
}
