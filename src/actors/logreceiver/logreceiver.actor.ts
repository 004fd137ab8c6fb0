/**
 * Logreceiver: demultiplexes Logfwdr's dataset batches into per-job batches (a zone may have
 * several jobs), coalesces small ones, and sends them to Buftee with a job header. Fail-open
 * surplus (zones without a job) is grouped per zone, as the incident's Buftee grouped it per
 * customer, and sent as zone batches, which Buftee refuses first near its limits.
 *
 * Crashes: what it coalesces (up to maxDelayMs of traffic) is in memory only after its records are
 * released, so Logreceiver keeps its `held` count in the ledger exact: up as handle() places
 * events, down as a batch is committed to Buftee's ring. A successor counts what its predecessor
 * held as `crashed`. handle() is synchronous from its first effect to its last (sending happens
 * apart, on a chain of its own), so a crash either lands before a record's effects (the record is
 * handled again) or after them (it is skipped by its mark): never both.
 */

import { defineActor } from '../../runtime/actor.js';
import { POOL_TRIM_MS } from '../../runtime/buffer-pool.js';
import type { ActorRef } from '../../runtime/actor-ref.js';
import { BatchReader, Codec, type CodecStructures } from '../../runtime/codec.js';
import { LedgerView, NONE_SLOT } from '../ledger.js';
import { readBatchOrCount, routesOf, SlotTally } from '../stage-config.js';
import { JOB_HEADER_BYTES, OFFSET_LIFE, TYPE_JOB_BATCH, TYPE_SURPLUS, TYPE_ZONE_BATCH, writeJobBatch, type JobHeader } from '../messages.js';
import type { StageConfig } from '../stage-config.js';
import type { RoutingIndex } from '../routing-index.js';
import { Demultiplexer, type DemuxOptions, type ReadyBatch } from './demux.js';

export interface LogreceiverArgs {
  target: string;
  structures: CodecStructures;
  config: StageConfig;
  demux?: DemuxOptions;
  /** A job's batch waits at most this long for more events. Default 500 ms: small batches cost every stage after this one per batch. */
  maxDelayMs?: number;
}

/** Ready batches not yet in Buftee's ring past which Logreceiver stops taking records. */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;

interface State {
  reader: BatchReader;
  jobs: Demultiplexer;
  zones: Demultiplexer;
  ledger: LedgerView;
  /** Where each zone's events go, in shared memory (routing-index.ts). */
  routes: RoutingIndex;
  header: JobHeader;
  sending: Promise<void>;
  /** A send is waiting for room in Buftee's mailbox: handle() waits before taking more. */
  stalled: boolean;
  /** Events placed by the record being handled, per job slot (its held count, flushed at its end). */
  placed: SlotTally;
  /** Surplus events placed by the record being handled (held under "-"). */
  placedSurplus: number;
  counts: { batchesOut: number; events: number; unrouted: number; malformed: number };
  /**
   * Each batch's id in JobHeader.offset: this life's base (restartCount × OFFSET_LIFE) plus a
   * count, unique in the process. Buftee on NATS makes it the message id (de-duplication).
   */
  batchId: number;
}

const NONE: readonly number[] = Object.freeze([]);

function slotsFor(state: State, dataset: string, key: string | number): readonly number[] {
  return state.routes.slotsFor(dataset, typeof key === 'number' ? key : Number(key));
}

/** Fail-open surplus is grouped by zone: the zone id stands where a job's slot would. */
function zoneLookup(): (dataset: string, key: string | number) => readonly number[] {
  const cache = new Map<string | number, readonly number[]>();
  return (_dataset, key) => {
    let z = cache.get(key);
    if (z === undefined) {
      const zone = Number(key);
      z = Number.isSafeInteger(zone) && zone > 0 && zone <= 0xffffffff ? [zone] : NONE;
      // Bounded: one entry per zone seen.
      if (cache.size < 1_000_000) cache.set(key, z);
    }
    return z;
  };
}

async function sendReady(ref: ActorRef, demux: Demultiplexer, type: number, header: JobHeader, state: State): Promise<void> {
  const ready: readonly ReadyBatch[] = demux.takeReady();
  for (const r of ready) {
    header.slot = r.slot;
    header.events = r.events;
    header.offset = ++state.batchId;
    const length = JOB_HEADER_BYTES + r.bytes.length;
    let claim = ref.tryClaim(length, type);
    while (claim === null) {
      // Backpressure: Buftee's mailbox is full; wait for room (woken by Buftee's release, not
      // polled: a 1 ms timer slept ~2,000 times a 4 M-event bench run) rather than hold more here.
      state.stalled = true;
      claim = await ref.claim(length, type, 1000);
    }
    state.stalled = false;
    writeJobBatch(claim.bytes, claim.offset, header, r.bytes);
    ref.commit();
    // In Buftee's ring now: no longer only here.
    state.ledger.hold(type === TYPE_JOB_BATCH ? r.slot : NONE_SLOT, 'logreceiver', -r.events);
    state.counts.batchesOut++;
  }
  demux.recycleAll();
}

function flush(state: State, ref: ActorRef, all: boolean, maxDelayMs: number): Promise<void> {
  // One sender at a time: handle() and the timer both send, and must not interleave batches.
  state.sending = state.sending.then(async () => {
    const now = performance.now();
    if (all) {
      state.jobs.flushAll();
      state.zones.flushAll();
    } else {
      state.jobs.flushOlderThan(now, maxDelayMs);
      state.zones.flushOlderThan(now, maxDelayMs);
    }
    if (state.jobs.hasReady) await sendReady(ref, state.jobs, TYPE_JOB_BATCH, state.header, state);
    if (state.zones.hasReady) await sendReady(ref, state.zones, TYPE_ZONE_BATCH, state.header, state);
  });
  return state.sending;
}

/** One record's effects, synchronously: placed in the demultiplexers, counted, then sends kicked off. */
function take(batch: Uint8Array, ctx: { args: LogreceiverArgs; ref(t: string): ActorRef; log: { warn(o: object, m: string): void } }, state: State, type: number): void {
  if (!readBatchOrCount(state.reader, batch, state.ledger, ctx.log)) {
    state.counts.malformed++;
    return;
  }
  const now = performance.now();
  state.counts.events += state.reader.count;
  let unrouted = 0;
  if (type === TYPE_SURPLUS) {
    state.placedSurplus += state.zones.add(state.reader, now);
  } else {
    state.jobs.add(state.reader, now);
    unrouted = state.jobs.unrouted;
  }
  // The record's counts, last: what it placed is held here now.
  state.placed.drain((slot, n) => state.ledger.hold(slot, 'logreceiver', n));
  if (state.placedSurplus > 0) {
    state.ledger.hold(NONE_SLOT, 'logreceiver', state.placedSurplus);
    state.placedSurplus = 0;
  }
  if (unrouted > 0) {
    // Events Logfwdr routed under a config this stage no longer has: counted, not lost silently.
    state.counts.unrouted += unrouted;
    state.ledger.ingest(NONE_SLOT, unrouted);
    state.ledger.drop(NONE_SLOT, 'unconfigured', unrouted);
  }
  if (state.jobs.hasReady || state.zones.hasReady) void flush(state, ctx.ref(ctx.args.target), false, ctx.args.maxDelayMs ?? 500);
}

export const actor = defineActor<LogreceiverArgs, State>({
  init(ctx) {
    const codec = new Codec(ctx.args.structures);
    const ledger = LedgerView.attach(ctx.args.config.ledger);
    const state: State = {
      reader: new BatchReader(codec),
      jobs: null as unknown as Demultiplexer,
      zones: new Demultiplexer(codec, zoneLookup(), ctx.args.demux),
      ledger,
      routes: routesOf(ctx.args.config, ledger),
      header: { slot: 0, events: 0, offset: 0 },
      sending: Promise.resolve(),
      stalled: false,
      placed: new SlotTally(ledger.maxJobs + 1),
      placedSurplus: 0,
      counts: { batchesOut: 0, events: 0, unrouted: 0, malformed: 0 },
      batchId: ctx.restartCount * OFFSET_LIFE,
    };
    state.jobs = new Demultiplexer(codec, (dataset, key) => slotsFor(state, dataset, key), ctx.args.demux, state.placed);
    // What a crashed predecessor held died with it: counted, to the event.
    const crashed = ledger.takeHeld('logreceiver');
    if (crashed > 0) ctx.log.error({ alert: 'stage_crashed', stage: 'logreceiver', crashed }, `logreceiver restarted: ${crashed} events its predecessor held are counted crashed`);
    return state;
  },

  handle(batch, ctx, state, type) {
    // Backpressure before any effect of this record: while a send waits for room, or more than
    // MAX_UNSENT_BYTES wait to be sent, so does intake.
    if (state.stalled || state.jobs.readyBytes + state.zones.readyBytes > MAX_UNSENT_BYTES) {
      return state.sending.then(() => take(batch, ctx, state, type));
    }
    take(batch, ctx, state, type);
    return undefined;
  },

  async run(ctx, state) {
    const maxDelayMs = ctx.args.maxDelayMs ?? 500;
    const ref = ctx.ref(ctx.args.target);
    let trimmedAt = performance.now();
    while (!ctx.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, maxDelayMs / 4)));
      await flush(state, ref, false, maxDelayMs);
      if (performance.now() - trimmedAt >= POOL_TRIM_MS) {
        trimmedAt = performance.now();
        // A burst's free batch buffers do not stay after it.
        state.jobs.trim();
        state.zones.trim();
      }
    }
  },

  async flush(ctx, state) {
    await flush(state, ctx.ref(ctx.args.target), true, 0);
  },

  reconfigure(partial, _ctx, state) {
    const config = partial as StageConfig;
    state.ledger.update(config.ledger);
    state.routes = routesOf(config, state.ledger);
  },

  stats: (_ctx, state) => ({ ...state.counts, openJobs: state.jobs.openJobs, pendingBytes: state.jobs.pending + state.zones.pending, pool: state.jobs.poolStats }),
});
