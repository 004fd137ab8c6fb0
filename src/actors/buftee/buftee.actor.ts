/**
 * The Buftee actor: one named buffer per job (the in-process core, buftee.ts), fed by
 * Logreceiver's job batches and drained by Logpush, which acks a job's batches once its
 * destination confirmed them. Every refusal and every drop is counted in the ledger.
 *
 * Sending to Logpush is fair and bounded: jobs with unread batches take turns, one batch each, and
 * a job has at most `windowBytes` read and unacked, so a job whose destination fails stops being
 * sent to while the others go on (no head-of-line blocking). A job whose policy is `block` and
 * whose buffer is full holds its batch here (backpressure up the pipeline) while Logpush keeps
 * acking the job, and drops it as `buffer_full` after `blockMs` without an ack: a blocked job may
 * slow the pipeline, never stop it.
 */

import { defineActor } from '../../runtime/actor.js';
import type { ActorRef } from '../../runtime/actor-ref.js';
import { LedgerView, NONE_SLOT } from '../ledger.js';
import { RingConsumer, type RecordHandler } from '../../native/ring-consumer.js';
import {
  ACK_BYTES,
  JOB_HEADER_BYTES,
  TYPE_ACK,
  TYPE_HELLO,
  TYPE_JOB_BATCH,
  TYPE_ZONE_BATCH,
  readAck,
  readJobHeader,
  writeJobBatch,
  type AckRecord,
  type JobHeader,
} from '../messages.js';
import type { StageConfig } from '../stage-config.js';
import { Buftee } from './buftee.js';
import type { BufteeOptions } from './limits.js';
import type { BufferedBatch } from './buffer.js';
import { PressureGauges } from './pressure.js';

export const CONSUMER = 'logpush';
const UNCONFIGURED_PREFIX = 'unconfigured';

export interface BufteeArgs {
  target: string;
  /**
   * Logpush's acks (and its hello after a restart) come on a ring of their own, not through the
   * mailbox: a `block` job waiting for room must still see the acks that make room.
   */
  acks: SharedArrayBuffer;
  config: StageConfig;
  buftee?: BufteeOptions;
  /** Most bytes of one job read by Logpush and not acked. Default 8 MiB. */
  windowBytes?: number;
  /** How long a `block` job's full buffer may hold a batch before it is dropped. Default 2 s. */
  blockMs?: number;
  /** Where Buftee publishes its pressure for Logfwdr and the owner (pressure.ts). */
  pressure?: SharedArrayBuffer;
}

/** Unconfigured zones' buffers deleted per tick once fail-open ends: stats() stays quick. */
const PURGE_PER_TICK = 2000;

interface Job {
  id: string;
  slot: number;
  prefix: string;
  /** Offsets sent and not acked, with their sizes, oldest first. */
  sent: { offset: number; bytes: number }[];
  inFlightBytes: number;
  /** When Logpush last acked this job: a blocked job waits as long as its consumer makes progress. */
  lastAckAt: number;
}

interface State {
  buftee: Buftee;
  ledger: LedgerView;
  bySlot: Map<number, Job>;
  byId: Map<string, Job>;
  /** Jobs with unread batches, in turn order. */
  ready: Set<string>;
  header: JobHeader;
  ack: AckRecord;
  windowBytes: number;
  counts: { appended: number; sent: number; acked: number; blockedMs: number; restarts: number };
  lastEviction: number;
  ackRing: RingConsumer;
  onAck: RecordHandler;
  stash: { job: Job; batch: BufferedBatch } | null;
  pressure: PressureGauges | null;
  /** Buffers of zones outside the configured set (fail-open surplus), by name. */
  zones: Set<string>;
  /** The mode in force: outside fail-open the zones' buffers are deleted, a few thousand a tick. */
  failOpen: boolean;
}

function apply(state: State, config: StageConfig): void {
  state.ledger.update(config.ledger);
  // Outside fail-open nothing forwards surplus: what the zones' buffers hold has no reader and never will.
  state.failOpen = config.mode === 'fail-open';
  const enabled = config.jobs.filter((j) => j.enabled !== false);
  state.buftee.configure(enabled.map((j) => ({ id: j.id, overflow: j.overflow ?? 'block' })));
  const keep = new Set(enabled.map((j) => j.id));
  for (const [id, job] of state.byId) {
    if (keep.has(id)) continue;
    state.buftee.unsubscribe(id, CONSUMER);
    state.byId.delete(id);
    state.bySlot.delete(job.slot);
    state.ready.delete(id);
  }
  for (const j of enabled) {
    if (state.byId.has(j.id)) continue;
    const slot = state.ledger.slotOf(j.id);
    if (slot === undefined) continue;
    const job: Job = { id: j.id, slot, prefix: j.dataset, sent: [], inFlightBytes: 0, lastAckAt: performance.now() };
    state.byId.set(j.id, job);
    state.bySlot.set(slot, job);
    state.buftee.subscribe(j.id, CONSUMER);
  }
}

/** Copies one read batch into Logpush's mailbox; false when the mailbox is full. */
function send(state: State, ref: ActorRef, job: Job, batch: BufferedBatch): boolean {
  const claim = ref.tryClaim(JOB_HEADER_BYTES + batch.bytes, TYPE_JOB_BATCH);
  if (claim === null) return false;
  state.header.slot = job.slot;
  state.header.events = batch.events;
  state.header.offset = batch.offset;
  writeJobBatch(claim.bytes, claim.offset, state.header, batch.data);
  ref.commit();
  job.sent.push({ offset: batch.offset, bytes: batch.bytes });
  job.inFlightBytes += batch.bytes;
  state.counts.sent++;
  return true;
}

/** Sends unread batches to Logpush, one per ready job in turn, until its mailbox is full. */
function pump(state: State, ref: ActorRef): number {
  let sent = 0;
  // A batch read when the mailbox was full goes first (reading moved the job's cursor past it).
  const stash = state.stash;
  if (stash !== null) {
    if (state.byId.get(stash.job.id) === stash.job && !send(state, ref, stash.job, stash.batch)) return 0;
    state.stash = null;
    sent++;
  }
  for (const id of state.ready) {
    const job = state.byId.get(id);
    if (job === undefined) {
      state.ready.delete(id);
      continue;
    }
    if (job.inFlightBytes >= state.windowBytes) continue;
    const { batches } = state.buftee.read(id, CONSUMER, 1);
    const batch = batches[0];
    if (batch === undefined) {
      state.ready.delete(id);
      continue;
    }
    // Moves the job to the back of the turn order.
    state.ready.delete(id);
    state.ready.add(id);
    if (!send(state, ref, job, batch)) {
      state.stash = { job, batch };
      break;
    }
    sent++;
  }
  return sent;
}

function evict(state: State): void {
  const { expired } = state.buftee.evictIdle(1000);
  for (const removed of expired) {
    const job = state.byId.get(removed.job);
    state.zones.delete(removed.job);
    state.ledger.drop(job?.slot ?? NONE_SLOT, 'expired', removed.events);
  }
}

/** Deletes up to PURGE_PER_TICK of the zones' buffers; their events are dropped as `unconfigured`. */
function purge(state: State): void {
  let n = 0;
  for (const name of state.zones) {
    if (n++ >= PURGE_PER_TICK) return;
    state.zones.delete(name);
    const removed = state.buftee.delete(name);
    if (removed !== null && removed.events > 0) state.ledger.drop(NONE_SLOT, 'unconfigured', removed.events);
  }
}

function publish(state: State): void {
  const stats = state.buftee;
  state.pressure?.publish(stats.pressure(), stats.bufferCount, stats.totalBytes, state.zones.size, stats.limits.maxBuffers);
}

/** Handles every ack and hello waiting on the ack ring. */
function drainAcks(state: State, ctx: { log: { info(o: object, m: string): void } }): void {
  state.ackRing.read(state.onAck);
  state.ackRing.release();
  void ctx;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const actor = defineActor<BufteeArgs, State>({
  init(ctx) {
    const buftee = new Buftee(ctx.args.buftee);
    for (const warning of buftee.warnings) ctx.log.warn({ alert: 'unsafe_limit' }, warning);
    const state: State = {
      buftee,
      ledger: LedgerView.attach(ctx.args.config.ledger),
      bySlot: new Map(),
      byId: new Map(),
      ready: new Set(),
      header: { slot: 0, events: 0, offset: 0 },
      ack: { slot: 0, events: 0, offset: 0, delivered: 0, failed: 0 },
      windowBytes: ctx.args.windowBytes ?? 8 * 1024 * 1024,
      counts: { appended: 0, sent: 0, acked: 0, blockedMs: 0, restarts: 0 },
      ackRing: new RingConsumer(ctx.args.acks),
      onAck: () => {},
      lastEviction: performance.now(),
      stash: null,
      pressure: ctx.args.pressure === undefined ? null : new PressureGauges(ctx.args.pressure),
      zones: new Set(),
      failOpen: false,
    };
    const ack = state.ack;
    state.onAck = (type, bytes, offset) => {
      if (type === TYPE_HELLO) {
        // A new Logpush: everything sent and not acked is sent again.
        state.stash = null;
        for (const job of state.byId.values()) {
          state.buftee.rewind(job.id, CONSUMER);
          job.sent.length = 0;
          job.inFlightBytes = 0;
          if (state.buftee.has(job.id)) state.ready.add(job.id);
        }
        state.counts.restarts++;
        return;
      }
      if (type !== TYPE_ACK) throw new Error(`buftee's ack ring carried a record of unknown type ${type}`);
      readAck(new DataView(bytes.buffer, bytes.byteOffset + offset, ACK_BYTES), 0, ack);
      const job = state.bySlot.get(ack.slot);
      if (job === undefined) return;
      state.buftee.ack(job.id, CONSUMER, ack.offset);
      job.lastAckAt = performance.now();
      while (job.sent.length > 0 && job.sent[0]!.offset <= ack.offset) job.inFlightBytes -= job.sent.shift()!.bytes;
      state.counts.acked++;
      if (state.buftee.has(job.id)) state.ready.add(job.id);
    };
    apply(state, ctx.args.config);
    return state;
  },

  async handle(batch, ctx, state, type) {
    const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    drainAcks(state, ctx);
    switch (type) {
      case TYPE_JOB_BATCH:
      case TYPE_ZONE_BATCH: {
        const header = readJobHeader(view, 0, state.header);
        const data = batch.subarray(JOB_HEADER_BYTES);
        const events = header.events;
        const job = type === TYPE_JOB_BATCH ? state.bySlot.get(header.slot) : undefined;
        if (type === TYPE_JOB_BATCH && job === undefined) {
          // A job the config no longer has: its events are counted, not kept.
          state.ledger.drop(header.slot, 'unconfigured', events);
          return;
        }
        const slot = job?.slot ?? NONE_SLOT;
        const name = job?.id ?? `zone-${header.slot}`;
        const prefix = job?.prefix ?? UNCONFIGURED_PREFIX;
        const started = performance.now();
        for (;;) {
          const result = state.buftee.append(prefix, name, data, events);
          if (result.status === 'appended') {
            state.counts.appended++;
            if (result.created && job === undefined) state.zones.add(name);
            if (result.dropped !== null) {
              for (const loss of result.dropped.unreadBy) state.ledger.drop(slot, 'buffer_full', loss.events);
              if (result.dropped.unreadBy.length === 0 && job === undefined) state.ledger.drop(slot, 'buffer_full', result.dropped.events);
            }
            if (job !== undefined) state.ready.add(name);
            break;
          }
          if (result.status === 'refused') {
            state.ledger.drop(slot, result.reason, result.events);
            break;
          }
          // `block`: wait for Logpush to free room, sending meanwhile, for as long as it acks this
          // job; after blockMs without progress (a failing destination) the batch is dropped.
          if (performance.now() - Math.max(started, job?.lastAckAt ?? 0) >= (ctx.args.blockMs ?? 2000)) {
            state.ledger.drop(slot, result.reason, result.events);
            break;
          }
          drainAcks(state, ctx);
          pump(state, ctx.ref(ctx.args.target));
          await sleep(1);
        }
        state.counts.blockedMs += performance.now() - started;
        pump(state, ctx.ref(ctx.args.target));
        publish(state);
        return;
      }
      default:
        throw new Error(`buftee got a message of unknown type ${type}`);
    }
  },

  async run(ctx, state) {
    const ref = ctx.ref(ctx.args.target);
    while (!ctx.signal.aborted) {
      drainAcks(state, ctx);
      const sent = pump(state, ref);
      const now = performance.now();
      if (now - state.lastEviction >= 1000) {
        state.lastEviction = now;
        evict(state);
      }
      if (!state.failOpen && state.zones.size > 0) purge(state);
      publish(state);
      await sleep(sent > 0 ? 0 : 2);
    }
  },

  reconfigure(partial, _ctx, state) {
    apply(state, partial as StageConfig);
  },

  stats: (_ctx, state) => ({ ...state.buftee.stats(), ...state.counts, readyJobs: state.ready.size, unconfiguredBuffers: state.zones.size }),
});

