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
 *
 * Crashes: Buftee keeps its `held` count in the ledger exact (events it has and no ring or Logpush
 * has: appended and not sent, or sent and handed back by a new Logpush's HELLO). A successor counts
 * what its predecessor held as `crashed` (ledger.takeHeld), starts its offsets in a new life
 * (OFFSET_LIFE) so acks meant for the dead never match, and answers the running Logpush's nonce
 * with a RESYNC (messages.ts, Restarts). The
 * tail of handle() (append, then the held count) is synchronous, so a crash either lands before
 * the append (the batch is handled again from the ring) or after the count (it is skipped by its
 * mark and counted crashed): never both, never neither.
 */

import { POOL_TRIM_MS } from '../../runtime/buffer-pool.js';
import { defineActor } from '../../runtime/actor.js';
import type { ActorRef } from '../../runtime/actor-ref.js';
import { LedgerView, NONE_SLOT } from '../ledger.js';
import { RingConsumer, type RecordHandler } from '../../native/ring-consumer.js';
import { SharedGauges } from '../../native/shared-gauges.js';
import {
  JOB_HEADER_BYTES,
  LINK_LENT_LIFE,
  OFFSET_LIFE,
  TYPE_JOB_BATCH,
  TYPE_ZONE_BATCH,
  readJobHeader,
  writeJobBatch,
  type AckRecord,
  type JobHeader,
} from '../messages.js';
import type { StageConfig } from '../stage-config.js';
import { JobTable } from '../job-table.js';
import { BufteeError } from './errors.js';
import { Buftee } from './buftee.js';
import { LIMIT_NAMES, type BufteeOptions, type LimitName } from './limits.js';
import type { BufferedBatch } from './buffer.js';
import type { AppendResult } from './results.js';
import { PressureGauges } from './pressure.js';
import { ackRingHandler, joinLink, sendResyncs } from './resync.js';

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
  /** Shared with Logpush: the nonce of the Logpush now running (messages.ts, Restarts). */
  link?: SharedArrayBuffer;
}

/** Unconfigured zones' buffers deleted per tick once fail-open ends: stats() stays quick. */
const PURGE_PER_TICK = 2000;

/** The `sent` of every job with nothing in flight: shared, never pushed to (send() makes a list). */
const NO_SENT: Job['sent'] = [];

interface Job {
  id: string;
  slot: number;
  prefix: string;
  /** Offsets sent and not acked, with their sizes and events, oldest first. */
  sent: { offset: number; bytes: number; events: number }[];
  inFlightBytes: number;
  /** When Logpush last acked this job: a blocked job waits as long as its consumer makes progress. */
  lastAckAt: number;
}

interface State {
  buftee: Buftee;
  ledger: LedgerView;
  /** The jobs in force, in shared memory: a job is admitted from it as its first batch comes. */
  table: JobTable;
  /** Admitted jobs. */
  bySlot: Map<number, Job>;
  byId: Map<string, Job>;
  /** Jobs with unread batches, in turn order. */
  ready: Set<string>;
  header: JobHeader;
  ack: AckRecord;
  windowBytes: number;
  counts: { appended: number; sent: number; acked: number; blockedMs: number; logpushHellos: number };
  /**
   * `blockedMs` by the limit that was full (one key per limit name: bounded). Tells a hot job at
   * its own budget (maxBytesPerBuffer) from a Buftee at its total (maxTotalBytes): in bench:pipeline
   * the busiest job (a seventh of the events) at its 8 MiB was most of Buftee's wait.
   */
  blockedMsByLimit: Record<LimitName, number>;
  lastEviction: number;
  /** When the batch pool was last trimmed (runtime/buffer-pool.ts). */
  lastTrim: number;
  ackRing: RingConsumer;
  onAck: RecordHandler;
  stash: { job: Job; batch: BufferedBatch } | null;
  pressure: PressureGauges | null;
  /** Buffers of zones outside the configured set (fail-open surplus), by name. */
  zones: Set<string>;
  /** The mode in force: outside fail-open the zones' buffers are deleted, a few thousand a tick. */
  failOpen: boolean;
  /** This life's first offset: restartCount × OFFSET_LIFE. */
  base: number;
  /** Nonces of HELLOs to answer with a RESYNC before any batch. */
  resyncs: number[];
  /** The last nonce answered: each HELLO is answered once. */
  lastHello: number;
}

function apply(state: State, config: StageConfig): void {
  state.ledger.update(config.ledger);
  // Outside fail-open nothing forwards surplus: what the zones' buffers hold has no reader and never will.
  state.failOpen = config.mode === 'fail-open';
  const previous = state.table;
  const table = JobTable.of(config.jobs, (id) => state.ledger.slotOf(id));
  state.table = table;
  // Only the jobs admitted so far (those with batches lately) are looked at: O(active), not O(jobs).
  // A job whose encoding is unchanged keeps its admission as it is, without being decoded: stop()
  // re-sends the config in force with another mode, and decoding 100,000 admitted jobs for it took
  // ~0.7 s of Buftee's time (bench:scale's hot set).
  for (const [id, job] of state.byId) {
    if (table.sameJob(previous, job.slot)) continue;
    const next = table.jobOfSlot(job.slot);
    if (next !== undefined && next.enabled !== false && next.id === id) {
      state.buftee.admit({ id, overflow: next.overflow ?? 'block' });
      continue;
    }
    // What was sent is Logpush's to count (it no longer runs the job); the rest is counted here.
    const removed = state.buftee.delete(id);
    const unsent = (removed?.events ?? 0) - job.sent.reduce((sum, b) => sum + b.events, 0);
    if (unsent > 0) {
      state.ledger.drop(job.slot, 'unconfigured', unsent);
      state.ledger.hold(job.slot, 'buftee', -unsent);
    }
    if (state.stash?.job === job) state.stash = null;
    retireJob(state, job);
  }
}

/**
 * The job on `slot` as its batch comes: admitted (configured, subscribed) when the table in force
 * has it enabled; undefined when it has not. A config of 1,000,000 jobs costs Buftee nothing
 * until their events come, and a job whose buffer was evicted idle is let go (retireJob).
 */
function admit(state: State, slot: number): Job | undefined {
  const config = state.table.jobOfSlot(slot);
  if (config === undefined || config.enabled === false) return undefined;
  state.buftee.subscribe(config.id, CONSUMER);
  state.buftee.admit({ id: config.id, overflow: config.overflow ?? 'block' });
  const job: Job = { id: config.id, slot, prefix: config.dataset, sent: NO_SENT, inFlightBytes: 0, lastAckAt: performance.now() };
  state.byId.set(job.id, job);
  state.bySlot.set(slot, job);
  return job;
}

/** Forgets an admitted job: removed from the config, or idle with its buffer evicted and nothing in flight. */
function retireJob(state: State, job: Job): void {
  state.buftee.unsubscribe(job.id, CONSUMER);
  state.buftee.forget(job.id);
  state.byId.delete(job.id);
  state.bySlot.delete(job.slot);
  state.ready.delete(job.id);
}

/** Copies one read batch into Logpush's mailbox; false when the mailbox is full. */
function send(state: State, ref: ActorRef, job: Job, batch: BufferedBatch): boolean {
  const claim = ref.tryClaim(JOB_HEADER_BYTES + batch.bytes, TYPE_JOB_BATCH);
  if (claim === null) return false;
  state.header.slot = job.slot;
  state.header.events = batch.events;
  state.header.offset = state.base + batch.offset;
  writeJobBatch(claim.bytes, claim.offset, state.header, batch.data);
  ref.commit();
  // In Logpush's ring now: no longer only here.
  state.ledger.hold(job.slot, 'buftee', -batch.events);
  if (job.sent === NO_SENT) job.sent = [];
  job.sent.push({ offset: batch.offset, bytes: batch.bytes, events: batch.events });
  job.inFlightBytes += batch.bytes;
  state.counts.sent++;
  return true;
}

/** Sends unread batches to Logpush, one per ready job in turn, until its mailbox is full. */
function pump(state: State, ref: ActorRef): number {
  let sent = 0;
  // Logpush learns where this Buftee's batches start before it gets one.
  if (!sendResyncs(ref, state.resyncs, state.base / OFFSET_LIFE)) return 0;
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
      // A copy: the batch's memory goes back to Buftee's pool if it is acked or dropped before
      // the next turn sends it (only when Logpush's mailbox is full).
      state.stash = { job, batch: { ...batch, data: batch.data.slice() } };
      break;
    }
    sent++;
  }
  return sent;
}

function evict(state: State): void {
  const { expired, jobs } = state.buftee.evictIdle(1000);
  for (const id of jobs) {
    const job = state.byId.get(id);
    if (job !== undefined && job.sent.length === 0 && state.stash?.job !== job) retireJob(state, job);
  }
  for (const removed of expired) {
    const job = state.byId.get(removed.job);
    state.zones.delete(removed.job);
    // Nobody read them, so none were sent: all were held here.
    state.ledger.drop(job?.slot ?? NONE_SLOT, 'expired', removed.events);
    state.ledger.hold(job?.slot ?? NONE_SLOT, 'buftee', -removed.events);
  }
}

/** Deletes up to PURGE_PER_TICK of the zones' buffers; their events are dropped as `unconfigured`. */
function purge(state: State): void {
  let n = 0;
  for (const name of state.zones) {
    if (n++ >= PURGE_PER_TICK) return;
    state.zones.delete(name);
    const removed = state.buftee.delete(name);
    if (removed !== null && removed.events > 0) {
      state.ledger.drop(NONE_SLOT, 'unconfigured', removed.events);
      state.ledger.hold(NONE_SLOT, 'buftee', -removed.events);
    }
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

interface Target {
  job: Job | undefined;
  slot: number;
  name: string;
  prefix: string;
}

/**
 * Appends one batch and counts it, or counts its refusal; null when done, the result when the
 * job's policy is `block` and its buffer is full. The held count is the last thing it does.
 */
function offer(state: State, target: Target, data: Uint8Array, events: number): Full | null {
  const { job, slot, name, prefix } = target;
  const result = state.buftee.append(prefix, name, data, events);
  if (result.status === 'refused') {
    state.ledger.drop(slot, result.reason, result.events);
    return null;
  }
  if (result.status !== 'appended') return result;
  state.counts.appended++;
  if (result.created && job === undefined) state.zones.add(name);
  if (result.dropped !== null) {
    // drop_oldest: only batches Logpush had not read were here alone (the rest it counts).
    let lost = 0;
    for (const loss of result.dropped.unreadBy) lost += loss.events;
    if (result.dropped.unreadBy.length === 0 && job === undefined) lost = result.dropped.events;
    if (lost > 0) {
      state.ledger.drop(slot, 'buffer_full', lost);
      state.ledger.hold(slot, 'buftee', -lost);
    }
  }
  if (job !== undefined) state.ready.add(name);
  state.ledger.hold(slot, 'buftee', events);
  return null;
}

/** An append that found the job's buffer (or Buftee) full under `block`: offered again later. */
type Full = Extract<AppendResult, { status: 'full' }>;

/**
 * `block`: waits for Logpush to free room, sending meanwhile, for as long as it acks this job;
 * after blockMs without progress (a failing destination) the batch is dropped as the result says.
 */
async function blocked(state: State, ctx: { args: BufteeArgs; ref(t: string): ActorRef; log: { info(o: object, m: string): void } }, target: Target, data: Uint8Array, events: number, first: Full): Promise<void> {
  const started = performance.now();
  const ref = ctx.ref(ctx.args.target);
  let result: Full | null = first;
  let since = started;
  let limit = first.limit;
  while (result !== null) {
    if (performance.now() - Math.max(started, target.job?.lastAckAt ?? 0) >= (ctx.args.blockMs ?? 2000)) {
      state.ledger.drop(target.slot, first.reason, events);
      break;
    }
    await sleep(1);
    // Each turn's wait goes to the limit that was full when it began.
    limit = result.limit;
    const now = performance.now();
    state.blockedMsByLimit[limit] += now - since;
    since = now;
    drainAcks(state, ctx);
    pump(state, ref);
    // The job may have been removed meanwhile: then its batch is counted as such.
    if (target.job !== undefined && state.byId.get(target.job.id) !== target.job) {
      state.ledger.drop(target.slot, 'unconfigured', events);
      break;
    }
    result = offer(state, target, data, events);
  }
  const ended = performance.now();
  state.blockedMsByLimit[limit] += ended - since;
  state.counts.blockedMs += ended - started;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const actor = defineActor<BufteeArgs, State>({
  init(ctx) {
    const buftee = new Buftee(ctx.args.buftee);
    for (const warning of buftee.warnings) ctx.log.warn({ alert: 'unsafe_limit' }, warning);
    const state: State = {
      buftee,
      ledger: LedgerView.attach(ctx.args.config.ledger),
      table: JobTable.build([], () => undefined),
      bySlot: new Map(),
      byId: new Map(),
      ready: new Set(),
      header: { slot: 0, events: 0, offset: 0 },
      ack: { slot: 0, events: 0, offset: 0, delivered: 0, failed: 0 },
      windowBytes: ctx.args.windowBytes ?? 8 * 1024 * 1024,
      counts: { appended: 0, sent: 0, acked: 0, blockedMs: 0, logpushHellos: 0 },
      blockedMsByLimit: Object.fromEntries(LIMIT_NAMES.map((name) => [name, 0])) as Record<LimitName, number>,
      ackRing: new RingConsumer(ctx.args.acks),
      onAck: () => {},
      lastEviction: performance.now(),
      lastTrim: performance.now(),
      stash: null,
      pressure: ctx.args.pressure === undefined ? null : new PressureGauges(ctx.args.pressure),
      zones: new Set(),
      failOpen: false,
      base: ctx.restartCount * OFFSET_LIFE,
      resyncs: [],
      lastHello: 0,
    };
    // What a crashed predecessor held died with it: counted, to the event.
    const crashed = state.ledger.takeHeld('buftee');
    if (crashed > 0) ctx.log.error({ alert: 'stage_crashed', stage: 'buftee', crashed }, `buftee restarted: ${crashed} events its predecessor held are counted crashed`);
    const link = ctx.args.link === undefined ? null : SharedGauges.attach(ctx.args.link);
    const hello = (nonce: number): void => {
      if (nonce === 0 || nonce === state.lastHello) return;
      state.lastHello = nonce;
      // A new Logpush: everything sent and not acked is only here again, and is sent again
      // after a RESYNC (the new Logpush drops what it finds in its ring before that).
      state.stash = null;
      state.resyncs.push(nonce);
      for (const job of state.byId.values()) {
        state.buftee.rewind(job.id, CONSUMER);
        state.ledger.hold(job.slot, 'buftee', job.sent.reduce((sum, b) => sum + b.events, 0));
        job.sent = NO_SENT;
        job.inFlightBytes = 0;
        if (state.buftee.has(job.id)) state.ready.add(job.id);
      }
      // What the dead Logpush had of this life (`lent`) is held here now, with the rest sent: let
      // go in the same step (messages.ts, Lent batches). Lent by an earlier life, it is not ours:
      // the new Logpush counts it crashed.
      if (link !== null && link.load(LINK_LENT_LIFE) === ctx.restartCount) state.ledger.releaseHeld('lent');
      state.counts.logpushHellos++;
    };
    state.onAck = ackRingHandler(state.ack, hello, (ack) => {
      const job = state.bySlot.get(ack.slot);
      const offset = ack.offset - state.base;
      // An ack for a batch of a dead Buftee, or of a buffer deleted since: nothing here to free.
      if (job === undefined || offset < 0 || offset >= OFFSET_LIFE || job.sent.length === 0 || job.sent[0]!.offset > offset) return;
      state.buftee.ack(job.id, CONSUMER, offset);
      job.lastAckAt = performance.now();
      while (job.sent.length > 0 && job.sent[0]!.offset <= offset) job.inFlightBytes -= job.sent.shift()!.bytes;
      // An emptied list is let go (with its backing store of 17 slots once anything was pushed):
      // most of 100,000 admitted jobs are idle with nothing in flight.
      if (job.sent.length === 0) job.sent = NO_SENT;
      state.counts.acked++;
      if (state.buftee.has(job.id)) state.ready.add(job.id);
    });
    apply(state, ctx.args.config);
    joinLink(ctx.args.link, ctx.restartCount, hello);
    return state;
  },

  handle(batch, ctx, state, type) {
    if (type !== TYPE_JOB_BATCH && type !== TYPE_ZONE_BATCH) throw new Error(`buftee got a message of unknown type ${type}`);
    const ref = ctx.ref(ctx.args.target);
    drainAcks(state, ctx);
    pump(state, ref);
    publish(state);
    const header = readJobHeader(new DataView(batch.buffer, batch.byteOffset, batch.byteLength), 0, state.header);
    const data = batch.subarray(JOB_HEADER_BYTES);
    const events = header.events;
    let job: Job | undefined;
    if (type === TYPE_JOB_BATCH) {
      try {
        job = state.bySlot.get(header.slot) ?? admit(state, header.slot);
      } catch (error) {
        // Past maxBuffers subscribed jobs (ERR_BUFTEE_LIMIT): refused like a buffer past a limit.
        if (!(error instanceof BufteeError)) throw error;
        state.ledger.drop(header.slot, 'buffer_limit', events);
        ctx.log.warn({ err: error, slot: header.slot }, 'job not admitted');
        return undefined;
      }
    }
    if (type === TYPE_JOB_BATCH && job === undefined) {
      // A job the config no longer has: its events are counted, not kept.
      state.ledger.drop(header.slot, 'unconfigured', events);
      return undefined;
    }
    const target = { job, slot: job?.slot ?? NONE_SLOT, name: job?.id ?? `zone-${header.slot}`, prefix: job?.prefix ?? UNCONFIGURED_PREFIX };
    const result = offer(state, target, data, events);
    // `block` and full: wait (asynchronously) for room; everything else is done, synchronously.
    return result === null ? undefined : blocked(state, ctx, target, data, events, result);
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
      if (now - state.lastTrim >= POOL_TRIM_MS) {
        state.lastTrim = now;
        state.buftee.trimPool();
      }
      if (!state.failOpen && state.zones.size > 0) purge(state);
      publish(state);
      await sleep(sent > 0 ? 0 : 2);
    }
  },

  reconfigure(partial, _ctx, state) {
    apply(state, partial as StageConfig);
  },

  stats: (_ctx, state) => ({ ...state.buftee.stats(), ...state.counts, blockedMsByLimit: { ...state.blockedMsByLimit }, readyJobs: state.ready.size, unconfiguredBuffers: state.zones.size }),
});

