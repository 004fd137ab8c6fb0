/**
 * The Logpush actor: reads each job's batches from Buftee, decodes every event once, and runs it
 * through the job (filter, sample, format, upload batch); each job has its own destination and
 * its own upload queue (job-delivery.ts), so a failing destination holds up only its own job.
 * Acks go back to Buftee only for batches whose events the destination confirmed.
 *
 * A new Logpush (its predecessor crashed with batches in memory) says HELLO with a nonce and drops
 * every batch until Buftee's RESYNC for that nonce; Buftee then sends again everything not acked.
 * Dropped batches from a Buftee life older than the RESYNC's died with that Buftee: counted
 * `crashed` here (messages.ts, Restarts).
 *
 * Orphans: a batch from a Buftee that has since died (its life is older than the newest RESYNC
 * seen) can be sent again by nobody, so while this Logpush has it in memory it is in the ledger's
 * `logpush` held count, until it is complete. A successor counts what its predecessor held so as
 * `crashed`.
 *
 * Lent: a batch of the living Buftee is in the ledger's `lent` count while this Logpush has it,
 * until it is complete or orphaned (then it moves to `logpush`). A successor settles what its
 * predecessor had lent at the RESYNC answering its HELLO: the Buftee that lent them took them back
 * if it answered (it lets `lent` go), else it died and they are counted `crashed` here
 * (messages.ts, Lent batches). Not with a Buftee on JetStream (`bufteeKeepsSent`): what it sent
 * and was not acked is delivered again whoever dies.
 */

import { BufferPool, POOL_TRIM_MS } from '../../runtime/buffer-pool.js';
import { RingProducer } from '../../native/ring-producer.js';
import { defineActor } from '../../runtime/actor.js';
import { BatchReader, Codec, isCodecError, type CodecStructures } from '../../runtime/codec.js';
import { JobTable } from '../job-table.js';
import { LedgerView } from '../ledger.js';
import {
  ACK_BYTES,
  JOB_HEADER_BYTES,
  LINK_BUFTEE_LIFE,
  LINK_HELLO_NONCE,
  LINK_LENT_LIFE,
  OFFSET_LIFE,
  TYPE_ACK,
  TYPE_HELLO,
  TYPE_RESYNC,
  readJobHeader,
  writeAck,
  type AckRecord,
  type JobHeader,
} from '../messages.js';
import { SharedGauges } from '../../native/shared-gauges.js';
import { PressureGauges } from '../buftee/pressure.js';
import type { StageConfig } from '../stage-config.js';
import { createDestination, type DestinationOptions } from './destinations/create-destination.js';
import { STALE_STAGED_MS, janitorTotals, reportJanitorRemovals } from './destinations/store-janitor.js';
import { messageOf } from './errors.js';
import { JobDelivery, type DeliveryCounts } from './job-delivery.js';
import { MAX_UPLOAD_INTERVAL_SECONDS } from './upload-batcher.js';
import { PutSlots } from './put-slots.js';
import { DueWheel } from './due-wheel.js';

const DEFAULT_MAX_HELD_BYTES_PER_JOB = 4 * 1024 * 1024;
const DEFAULT_PRESSURE_SEAL_AHEAD_MS = 1000;
/** How many classes larger than asked for a take from Logpush's buffer pool may be (8: up to twice the size). */
const LOGPUSH_POOL_LARGER_CLASSES = 8;
/** Free bytes Logpush's buffer pool keeps (see its state's pool). */
export const LOGPUSH_POOL_FREE_BYTES = 64 << 20;
/** While Buftee's pressure lasts, the seal horizon grows by this many ms per ms: 2 s ahead after 1 s, 11 s after 10 s. */
const PRESSURE_AHEAD_GROWTH = 1;

/** Throws a RangeError unless `ms` is above 0 and at most the longest upload interval (300 s). */
export function checkSealAhead(ms: number): number {
  if (!(ms > 0 && ms <= MAX_UPLOAD_INTERVAL_SECONDS * 1000)) throw new RangeError(`pressureSealAheadMs must be a number of ms above 0 and at most ${MAX_UPLOAD_INTERVAL_SECONDS * 1000}, got ${ms}`);
  return ms;
}

export interface LogpushArgs {
  /** The ring to Buftee for acks and the hello (see BufteeArgs.acks). */
  acks: SharedArrayBuffer;
  structures: CodecStructures;
  config: StageConfig;
  destinations?: DestinationOptions;
  /**
   * A job holding this many bytes of unacked batches has its open object sealed early, so Buftee
   * can free them: keep it under Buftee's per-buffer budget and window. Default 4 MiB.
   */
  maxHeldBytesPerJob?: number;
  retryDelayMs?: number;
  /** A job's delivery with nothing open or pending for this long is closed; its next batch opens it again. Default 10 s. */
  idleDeliveryMs?: number;
  /** Objects put at once over all jobs (file descriptors, connections). Default 64. */
  maxConcurrentPuts?: number;
  /** Shared with Buftee: where this Logpush publishes its HELLO nonce (messages.ts, Restarts). */
  link?: SharedArrayBuffer;
  /**
   * Buftee keeps what it sent until it is acked, through its own death (JetStream redelivers it):
   * nothing this Logpush has is lost with Buftee, so nothing is counted `lent`. Default false.
   */
  bufteeKeepsSent?: boolean;
  /**
   * Buftee's pressure gauges (buftee/pressure.ts). While Buftee is at soft pressure or above (80% of
   * a limit: its bytes in all, in a busy pipeline), every tick seals the objects due within the next
   * `pressureSealAheadMs`, a horizon that widens the longer the pressure lasts, so what Buftee
   * holds for them goes out sooner, instead of Buftee reaching its byte budget and blocking every
   * job's input. Absent, objects seal by their limits alone.
   */
  pressure?: SharedArrayBuffer;
  /** See `pressure`. Default 1,000 ms. */
  pressureSealAheadMs?: number;
}

interface State {
  reader: BatchReader;
  ledger: LedgerView;
  jobs: Map<number, JobDelivery>;
  /** Deliveries with an open object, by when it is due: the interval timer visits only those due. */
  due: DueWheel<JobDelivery>;
  header: JobHeader;
  ack: AckRecord;
  ackBytes: Uint8Array;
  /** Acks the ack ring had no room for, sent first next time. Bounded: one per batch in flight. */
  pendingAcks: AckRecord[];
  /** Writes one ack to Buftee's ack ring; false when it is full. */
  sendAck: (ack: AckRecord) => boolean;
  /** Applies a config: flushes and closes the deliveries of removed or changed jobs. */
  configure: (config: StageConfig) => void;
  /** The jobs in force, in shared memory: a delivery is made from it when its job's first batch comes. */
  table: JobTable;
  /** Opens the delivery of `slot`'s job, or undefined when the table has no such (enabled, valid) job. */
  open: (slot: number) => JobDelivery | undefined;
  /** Slots whose job was refused under the table in force. */
  refused: Set<number>;
  /** Counts of deliveries closed since start, so stats' totals stay whole. */
  retired: Record<string, number>;
  /** Puts in progress over every job, bounded. */
  slots: PutSlots;
  /** Objects' buffers, shared by every job (runtime/buffer-pool.ts). */
  pool: BufferPool;
  counts: { batches: number; unknownJob: number; malformedBatches: number; earlySeals: number; pressureSeals: number; droppedBeforeResync: number; crashed: number };
  nonce: number;
  /** The newest Buftee life known (shared memory, or a RESYNC): batches of older lives are orphans. */
  life: number;
  link: SharedGauges | null;
  pressure: PressureGauges | null;
  /** Where the pressure seals' horizon starts (LogpushArgs.pressureSealAheadMs). */
  sealAheadMs: number;
  /** Until Buftee's RESYNC for our nonce: batches dropped, by Buftee life and slot (events). */
  waiting: Map<number, Map<number, number>> | null;
  /** Batches of the living Buftee are counted in the ledger's `lent` word (a link, and a Buftee that does not keep what it sent). */
  countsLent: boolean;
  /** The Buftee life of what a predecessor left in `lent` (LINK_LENT_LIFE at start), until settled at the RESYNC. */
  inheritedLentLife: number;
  lentSettled: boolean;
}

/** Flushes a delivery that leaves (its job removed or changed, or idle): closed once what it holds is out. */
function retire(state: State, slot: number, delivery: JobDelivery): void {
  delivery.flush();
  void delivery.whenIdle().then(() => delivery.close());
  state.jobs.delete(slot);
  state.due.file(delivery, undefined);
  for (const [key, value] of Object.entries(delivery.counts)) state.retired[key] = (state.retired[key] ?? 0) + value;
}

/**
 * A delivery with nothing open and nothing pending for this long is closed (it reopens on its next
 * batch, ~30 µs: its compiled job and destination). 10 s: a delivery is ~2 kB of heap in ~40
 * objects, and after a burst over 100,000 jobs (bench:scale's warm-up) a minute of them was ~200 MB
 * that every full GC of Logpush marked while the busy jobs ran. A job with traffic every few
 * seconds keeps its delivery; one with a batch a minute pays one reopen a minute.
 */
export const DEFAULT_IDLE_DELIVERY_MS = 10_000;
export const DEFAULT_MAX_CONCURRENT_PUTS = 64;
/** The interval timer's period: objects are sealed at most this late after they are due. */
const TICK_MS = 50;

const MAX_JOBS_IN_STATS = 100;

function* take<T>(items: Iterable<T>, n: number): Iterable<T> {
  if (n <= 0) return;
  for (const item of items) {
    yield item;
    if (--n <= 0) return;
  }
}

function totalsOf(deliveries: Iterable<JobDelivery>, retired: Record<string, number>): Record<string, number> {
  // Field by field, not Object.entries per job: stats() is polled (every 250 ms by bench:pipeline,
  // every second by the CLI) and an array per job per call was Logpush's largest allocation. A
  // field added to DeliveryCounts fails this literal's type check until it is summed here too.
  const sum: DeliveryCounts = { batches: 0, events: 0, objects: 0, delivered: 0, failedObjects: 0, retries: 0 };
  let pendingBatches = 0;
  for (const d of deliveries) {
    const c = d.counts;
    sum.batches += c.batches;
    sum.events += c.events;
    sum.objects += c.objects;
    sum.delivered += c.delivered;
    sum.failedObjects += c.failedObjects;
    sum.retries += c.retries;
    pendingBatches += d.pendingBatches;
  }
  // Retired deliveries' counts (the same fields) added in; pending batches are only the open ones'.
  const totals: Record<string, number> = { ...retired, pendingBatches };
  for (const key of Object.keys(sum) as (keyof DeliveryCounts)[]) totals[key] = (totals[key] ?? 0) + sum[key];
  return totals;
}

/** A new Buftee life: what this Logpush holds from older ones is orphaned now (held, until complete). */
function learnLife(state: State, life: number): void {
  if (life <= state.life) return;
  for (const [slot, delivery] of state.jobs) {
    let orphaned = 0;
    for (const e of delivery.pendingEntries()) {
      const from = Math.floor(e.offset / OFFSET_LIFE);
      if (from >= state.life && from < life) orphaned += e.events;
    }
    state.ledger.hold(slot, 'logpush', orphaned);
    if (state.countsLent) state.ledger.hold(slot, 'lent', -orphaned);
  }
  state.life = life;
  // Before the RESYNC, `lent` is still the predecessor's (and its life is the one to settle).
  if (state.lentSettled) state.link?.store(LINK_LENT_LIFE, life);
}

/**
 * At the RESYNC for our nonce (Buftee life `life`): what a predecessor left in `lent` was lent by
 * the Buftee of life inheritedLentLife. That Buftee answering took them back (and let `lent` go
 * as it did); a later one answering means it died first, and nobody has them any more.
 */
function settleLent(state: State, ctx: { log: { error(o: object, m: string): void } }, life: number): void {
  if (state.countsLent && state.inheritedLentLife < life) {
    const crashed = state.ledger.takeHeld('lent');
    state.counts.crashed += crashed;
    if (crashed > 0) {
      ctx.log.error({ alert: 'stage_crashed', stage: 'logpush', crashed }, `${crashed} events a dead Logpush had from a Buftee that died too are counted crashed`);
    }
  }
  state.lentSettled = true;
  // From now on `lent` counts this Logpush's batches of the living Buftee.
  state.link?.store(LINK_LENT_LIFE, state.life);
}

/** Buftee's answer to a HELLO: ours ends the wait; batches of older Buftee lives died with them. */
function resync(state: State, ctx: { log: { warn(o: object, m: string): void; error(o: object, m: string): void } }, view: DataView): void {
  const nonce = view.getUint32(0, true);
  const life = view.getUint32(4, true);
  learnLife(state, life);
  if (state.waiting === null || nonce !== state.nonce) return;
  settleLent(state, ctx, life);
  let crashed = 0;
  for (const [from, bySlot] of state.waiting) {
    if (from >= life) continue;
    for (const [slot, events] of bySlot) {
      state.ledger.drop(slot, 'crashed', events);
      crashed += events;
    }
  }
  state.waiting = null;
  state.counts.crashed += crashed;
  if (crashed > 0) ctx.log.warn({ crashed }, `${crashed} events sent by a Buftee that crashed before re-sending them are counted crashed`);
}

export const actor = defineActor<LogpushArgs, State>({
  init(ctx) {
    const link = ctx.args.link === undefined ? null : SharedGauges.attach(ctx.args.link);
    const state: State = {
      reader: new BatchReader(new Codec(ctx.args.structures)),
      ledger: LedgerView.attach(ctx.args.config.ledger),
      jobs: new Map(),
      due: new DueWheel(TICK_MS),
      header: { slot: 0, events: 0, offset: 0 },
      ack: { slot: 0, events: 0, offset: 0, delivered: 0, failed: 0 },
      ackBytes: new Uint8Array(ACK_BYTES),
      pendingAcks: [],
      sendAck: () => false,
      configure: () => {},
      table: JobTable.build([], () => undefined),
      open: () => undefined,
      refused: new Set(),
      retired: {},
      slots: new PutSlots(ctx.args.maxConcurrentPuts ?? DEFAULT_MAX_CONCURRENT_PUTS),
      sealAheadMs: checkSealAhead(ctx.args.pressureSealAheadMs ?? DEFAULT_PRESSURE_SEAL_AHEAD_MS),
      // Objects up to 8 MiB (max_upload_bytes defaults to 5 MiB) come back to the pool. A job's
      // objects vary in size and grow by doubling, so takes ask for many classes; taken from their
      // own class only, 45% of them made a new buffer while the pool sat full of other sizes
      // (bench:pipeline, 2 M events: 4,934 made, 5,934 reused), ~1 GB of fresh ArrayBuffers whose
      // growth V8 answers with full GCs. An object's buffer has room to spare anyway.
      // 64 MiB free at most, not the pool's default 128: with staged objects Logpush's buffers are
      // spill-sized chunks and bodies, and the second 64 MiB was hardly ever taken (a 3 M run:
      // 3,568 buffers made against 3,442 with 128 MiB, the same reuses) while it was up to 64 MiB
      // of the peak RSS (paired 4 M gzip runs: 866-929 against 898-980 MiB).
      pool: new BufferPool({ maxFreeBytes: LOGPUSH_POOL_FREE_BYTES, maxPooledBytes: 8 << 20, largerClasses: LOGPUSH_POOL_LARGER_CLASSES }),
      counts: { batches: 0, unknownJob: 0, malformedBatches: 0, earlySeals: 0, pressureSeals: 0, droppedBeforeResync: 0, crashed: 0 },
      nonce: 1 + Math.floor(Math.random() * 0x7ffffffe),
      life: 0,
      link,
      pressure: ctx.args.pressure === undefined ? null : new PressureGauges(ctx.args.pressure),
      waiting: new Map(),
      countsLent: link !== null && ctx.args.bufteeKeepsSent !== true,
      // Left as it is until the RESYNC (settleLent): Buftee may still take those batches back.
      inheritedLentLife: link === null ? 0 : link.load(LINK_LENT_LIFE),
      lentSettled: false,
    };
    reportJanitorRemovals((directory, removed) =>
      ctx.log.warn({ directory, removed }, `object store ${directory}: removed ${removed} temporary file(s) that dead writers left (untouched for ${STALE_STAGED_MS / 60_000} min)`),
    );
    const acks = new RingProducer(ctx.args.acks);
    state.sendAck = (ack: AckRecord): boolean => {
      writeAck(new DataView(state.ackBytes.buffer), 0, ack);
      return acks.tryWrite(TYPE_ACK, state.ackBytes);
    };
    state.open = (slot: number): JobDelivery | undefined => {
      const job = state.table.jobOfSlot(slot);
      if (job === undefined || job.enabled === false || state.refused.has(slot)) return undefined;
      try {
        const delivery = new JobDelivery(job, slot, {
          destination: createDestination(job.destination, ctx.args.destinations),
          ledger: state.ledger,
          retryDelayMs: ctx.args.retryDelayMs,
          slots: state.slots,
          pool: state.pool,
          urgentHeldBytes: ctx.args.maxHeldBytesPerJob ?? DEFAULT_MAX_HELD_BYTES_PER_JOB,
          structures: ctx.args.structures,
          // Objects are due max_upload_interval_seconds after their oldest event's time, not only
          // after their first line arrived here: time spent queued upstream counts.
          eventClockOffsetMs: -performance.timeOrigin,
          // Jobs that start together do not seal together (and hold a whole interval each) forever.
          staggerFirstObject: true,
          completed: (offset, events) => {
            if (Math.floor(offset / OFFSET_LIFE) < state.life) state.ledger.hold(slot, 'logpush', -events);
            else if (state.countsLent) state.ledger.hold(slot, 'lent', -events);
          },
          ack: (s, offset, delivered, failed) => {
            const ack = { slot: s, events: delivered + failed, offset, delivered, failed };
            if (state.pendingAcks.length > 0 || !state.sendAck(ack)) state.pendingAcks.push(ack);
          },
          onError: (jobId, error, retrying) =>
            ctx.log.error({ alert: 'destination_failed', job: jobId, retrying }, `job ${jobId}: destination failed: ${messageOf(error)}`),
        });
        state.jobs.set(slot, delivery);
        return delivery;
      } catch (error) {
        // Bounded: one entry per job of the table in force, cleared with the next config.
        state.refused.add(slot);
        ctx.log.error({ alert: 'job_refused', job: job.id }, `job ${job.id} refused: ${messageOf(error)}`);
        return undefined;
      }
    };
    state.configure = (config: StageConfig): void => {
      state.ledger.update(config.ledger);
      const previous = state.table;
      const table = JobTable.of(config.jobs, (id) => state.ledger.slotOf(id));
      state.table = table;
      state.refused.clear();
      for (const [slot, delivery] of state.jobs) {
        if (previous.sameJob(table, slot)) continue;
        // Removed or changed: what it holds goes out under the old settings first.
        retire(state, slot, delivery);
      }
      // Deliveries open when a job's first batch comes (open above): a config of 1,000,000 jobs
      // costs this thread nothing until their events do.
    };
    state.configure(ctx.args.config);
    // What a crashed predecessor held and nobody can send again died with it: counted, to the event.
    const crashed = state.ledger.takeHeld('logpush');
    if (crashed > 0) ctx.log.error({ alert: 'stage_crashed', stage: 'logpush', crashed }, `logpush restarted: ${crashed} events of a dead Buftee its predecessor held are counted crashed`);
    // Tells Buftee this is a new Logpush: whatever an earlier one had not acked comes again.
    if (ctx.args.link !== undefined) SharedGauges.attach(ctx.args.link).store(LINK_HELLO_NONCE, state.nonce);
    const hello = new Uint8Array(4);
    new DataView(hello.buffer).setUint32(0, state.nonce, true);
    if (!acks.tryWrite(TYPE_HELLO, hello)) throw new Error('the ack ring to Buftee is full at start');
    return state;
  },

  handle(batch, ctx, state, type) {
    // The Buftee now running, from shared memory: a death is known here at once, not only when its
    // successor's RESYNC comes through the ring behind everything queued before it.
    if (state.link !== null) learnLife(state, state.link.load(LINK_BUFTEE_LIFE));
    if (type === TYPE_RESYNC) {
      resync(state, ctx, new DataView(batch.buffer, batch.byteOffset, batch.byteLength));
      return;
    }
    const header = readJobHeader(new DataView(batch.buffer, batch.byteOffset, JOB_HEADER_BYTES), 0, state.header);
    if (state.waiting !== null) {
      // Before the RESYNC: Buftee sends it again after it (or it died with its Buftee).
      const life = Math.floor(header.offset / OFFSET_LIFE);
      let bySlot = state.waiting.get(life);
      if (bySlot === undefined) state.waiting.set(life, (bySlot = new Map()));
      bySlot.set(header.slot, (bySlot.get(header.slot) ?? 0) + header.events);
      state.counts.droppedBeforeResync++;
      return;
    }
    const delivery = state.jobs.get(header.slot) ?? state.open(header.slot);
    state.counts.batches++;
    if (delivery === undefined) {
      // A job this Logpush does not run (removed, or refused): counted, and acked so Buftee frees it.
      state.counts.unknownJob++;
      state.ledger.drop(header.slot, 'unconfigured', header.events);
      state.pendingAcks.push({ slot: header.slot, events: header.events, offset: header.offset, delivered: 0, failed: 0 });
      return;
    }
    try {
      state.reader.reset(batch.subarray(JOB_HEADER_BYTES));
    } catch (error) {
      if (!isCodecError(error)) throw error;
      state.counts.malformedBatches++;
      state.ledger.drop(header.slot, 'malformed', header.events);
      state.pendingAcks.push({ slot: header.slot, events: header.events, offset: header.offset, delivered: 0, failed: 0 });
      return;
    }
    const orphan = Math.floor(header.offset / OFFSET_LIFE) < state.life;
    delivery.add(header.offset, batch.length - JOB_HEADER_BYTES, state.reader, performance.now());
    // Draining: the interval timer has stopped, and batches Buftee still sends must not wait for it.
    if (ctx.signal.aborted) delivery.flush();
    // Objects seal at their own limits; this seals one sooner so its batches can be freed.
    else if (delivery.sealEarly(ctx.args.maxHeldBytesPerJob ?? DEFAULT_MAX_HELD_BYTES_PER_JOB)) {
      state.counts.earlySeals++;
    }
    state.due.file(delivery, delivery.compiled.deadline);
    // A batch of a Buftee that died since it was sent is only here now: counted as held last, so
    // a crash before this line leaves it to be handled (or dropped and counted) again, never both.
    // One of the living Buftee is lent: its successor settles it if this Logpush dies.
    if (orphan) state.ledger.hold(header.slot, 'logpush', header.events);
    else if (state.countsLent) state.ledger.hold(header.slot, 'lent', header.events);
  },

  async run(ctx, state) {
    const sendAck = state.sendAck;
    let sweptAt = performance.now();
    let trimmedAt = sweptAt;
    const idleMs = ctx.args.idleDeliveryMs ?? DEFAULT_IDLE_DELIVERY_MS;
    const sealAheadMs = state.sealAheadMs;
    let ahead = 0;
    while (!ctx.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
      const now = performance.now();
      if (now - sweptAt >= idleMs / 4) {
        sweptAt = now;
        // Deliveries of jobs without traffic for idleMs: nothing open, nothing pending; closed
        // so that the jobs that ever had a batch do not each keep a delivery for good.
        // forEach: no [slot, delivery] pair allocated per delivery (100,000 of them after a burst).
        state.jobs.forEach((delivery, slot) => {
          if (delivery.pendingBatches === 0 && delivery.compiled.deadline === undefined && now - delivery.lastAddAt >= idleMs) retire(state, slot, delivery);
        });
      }
      if (now - trimmedAt >= POOL_TRIM_MS) {
        trimmedAt = now;
        state.pool.trim();
      }
      if (state.link !== null) learnLife(state, state.link.load(LINK_BUFTEE_LIFE));
      state.due.takeDue(now, (delivery) => {
        delivery.tick(now);
        state.due.file(delivery, delivery.compiled.deadline);
      });
      if (state.pressure !== null && state.pressure.levelIndex() > 0) {
        // The horizon widens the longer the pressure lasts (by PRESSURE_AHEAD_GROWTH a tick): a
        // job with a long interval is sealed too if the pressure does not clear.
        ahead = ahead === 0 ? sealAheadMs : Math.min(ahead + PRESSURE_AHEAD_GROWTH * TICK_MS, MAX_UPLOAD_INTERVAL_SECONDS * 1000);
        state.due.takeDue(now + ahead, (delivery) => {
          if (delivery.flush()) state.counts.pressureSeals++;
          state.due.file(delivery, delivery.compiled.deadline);
        });
      } else ahead = 0;
      while (state.pendingAcks.length > 0 && sendAck(state.pendingAcks[0]!)) state.pendingAcks.shift();
    }
  },

  async flush(_ctx, state) {
    const sendAck = state.sendAck;
    for (const delivery of state.jobs.values()) delivery.flush();
    await Promise.all([...state.jobs.values()].map((d) => d.whenIdle()));
    while (state.pendingAcks.length > 0) {
      if (sendAck(state.pendingAcks[0]!)) state.pendingAcks.shift();
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
  },

  async stop(_ctx, state) {
    await Promise.all([...state.jobs.values()].map((d) => d.close()));
  },

  reconfigure(partial, _ctx, state) {
    state.configure(partial as StageConfig);
  },

  stats: (_ctx, state) => ({
    ...state.counts,
    heldBytes: [...state.jobs.values()].reduce((a, d) => a + d.heldBytes, 0),
    // The jobs' open objects: the lines still in memory, and those already in their staged files.
    openObjects: openObjectBytes(state.jobs.values()),
    pendingAcks: state.pendingAcks.length,
    putsBusy: state.slots.busy,
    putsQueued: state.slots.queued,
    pool: { freeBytes: state.pool.freeBytes, freeBuffers: state.pool.freeBuffers, reused: state.pool.reused, allocated: state.pool.allocated },
    // The object stores' janitors of this thread (store-janitor.ts): walks, and files removed.
    janitor: janitorTotals(),
    // Totals over every job; per job only for the first MAX_JOBS_IN_STATS (stats() answers in
    // bounded time and size with 100,000 jobs).
    totals: totalsOf(state.jobs.values(), state.retired),
    jobCount: state.jobs.size,
    jobs: Object.fromEntries([...take(state.jobs.values(), MAX_JOBS_IN_STATS)].map((d) => [d.job.id, { ...d.counts, pendingBatches: d.pendingBatches }])),
  }),
});

/** Bytes of the open objects of `deliveries`: in memory, and staged at their destinations (UploadBatcher.heldBytes, openBytes). */
function openObjectBytes(deliveries: Iterable<JobDelivery>): { memoryBytes: number; stagedBytes: number } {
  let memoryBytes = 0;
  let stagedBytes = 0;
  for (const d of deliveries) {
    const held = d.compiled.heldBytes;
    memoryBytes += held;
    stagedBytes += d.compiled.openBytes - held;
  }
  return { memoryBytes, stagedBytes };
}
