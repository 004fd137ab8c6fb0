/**
 * Logfwdr: decides which events to forward, by dataset and by the jobs of the config in force
 * (handed over by the owner's config guard with `reconfigure`). Routes on each batch's keys
 * without decoding a payload, and counts every event into the ledger: ingested for each of its
 * jobs, or, for zones without a job, ingested and dropped as `unconfigured` under "-" (or
 * forwarded as fail-open surplus, marked so it is shed first).
 *
 * Shedding: on every batch Logfwdr reads Buftee's pressure level from shared memory (one atomic
 * load, no message). From `soft` it sheds the fail-open surplus; at `hard` it also sheds each
 * job's events beyond a fair share: the jobs' mean demand over the last window (250 ms), at least
 * MIN_SHARE. Heavy jobs lose their excess, light ones nothing. Every shed event is counted in the
 * ledger as `shed` under its jobs (or "-"). When the level falls, forwarding resumes by itself.
 */

import { defineActor } from '../../runtime/actor.js';
import type { ActorRef } from '../../runtime/actor-ref.js';
import { BatchReader, BatchWriter, Codec, type CodecStructures } from '../../runtime/codec.js';
import { LedgerView, NONE_SLOT } from '../ledger.js';
import { TYPE_EVENTS, TYPE_SURPLUS } from '../messages.js';
import { readBatchOrCount, routesOf, SlotTally, type StageConfig } from '../stage-config.js';
import { PressureGauges } from '../buftee/pressure.js';
import { JobTable } from '../job-table.js';
import type { RoutingIndex } from '../routing-index.js';

export interface LogfwdrArgs {
  target: string;
  structures: CodecStructures;
  config: StageConfig;
  /** Buftee's pressure gauges (buftee/pressure.ts); absent, Logfwdr never sheds. */
  pressure?: SharedArrayBuffer;
}

const WINDOW_MS = 250;
/** A job's events in one window that are never shed for fairness (400 events/s). */
export const MIN_SHARE = 100;
const LEVEL_SOFT = 1;
const LEVEL_HARD = 2;

/** Per-job demand in the current window, and the fair share computed from the previous one. */
export class FairShare {
  readonly demand: Int32Array;
  private readonly touched: number[] = [];
  private startedAt: number;
  share = Infinity;

  constructor(slots: number, now: number = performance.now()) {
    this.demand = new Int32Array(slots);
    this.startedAt = now;
  }

  /** Counts one event of `slot`; true while the slot is within its share. */
  within(slot: number): boolean {
    const d = this.demand;
    if (d[slot] === 0) this.touched.push(slot);
    return ++d[slot]! <= this.share;
  }

  /** Counts `n` (> 0) events of `slot` at once, for a record forwarded whole (nothing is shed then). */
  count(slot: number, n: number): void {
    const d = this.demand;
    if (d[slot] === 0) this.touched.push(slot);
    d[slot]! += n;
  }

  /** Starts a new window when the current one is over: the share is the mean demand of the last. */
  roll(now: number): void {
    if (now - this.startedAt < WINDOW_MS) return;
    this.startedAt = now;
    let total = 0;
    for (const slot of this.touched) {
      total += this.demand[slot]!;
      this.demand[slot] = 0;
    }
    this.share = this.touched.length === 0 ? Infinity : Math.max(MIN_SHARE, Math.ceil(total / this.touched.length));
    this.touched.length = 0;
  }
}

/** Per distinct key of a batch: the jobs' slots, or a marker for a zone without a job. */
const FORWARD_SURPLUS = -1;
const DROP = -2;

interface State {
  reader: BatchReader;
  forward: BatchWriter;
  surplus: BatchWriter;
  ledger: LedgerView;
  /** Where each zone's events go, in shared memory (routing-index.ts). */
  routes: RoutingIndex;
  mode: StageConfig['mode'];
  generation: number;
  tally: SlotTally;
  keyJobs: (readonly number[] | number)[];
  /** Events per key of the record being routed whole; grows to the most keys a record had (a record is bounded by the mailbox). */
  perKey: Int32Array;
  counts: { forwarded: number; surplus: number; unconfigured: number; malformed: number; shed: number; shedSurplus: number; wholeRecords: number };
  pressure: PressureGauges | null;
  fair: FairShare;
  shed: SlotTally;
}


function apply(state: State, config: StageConfig): void {
  state.ledger.update(config.ledger);
  state.routes = routesOf(config, state.ledger);
  state.mode = config.mode;
  state.generation = config.generation;
}

/** The jobs of key `k` of the batch `reader` holds: its zone, read as a number without a string when it is plain digits. */
function jobsOf(state: State, dataset: string, reader: BatchReader, k: number): readonly number[] | number {
  const zone = reader.keyNumber(k);
  const slots = state.routes.slotsFor(dataset, zone >= 0 ? zone : Number(reader.keyByIndex(k)));
  if (state.mode === 'fail-closed') return DROP;
  if (slots.length > 0) return slots;
  return state.mode === 'fail-open' ? FORWARD_SURPLUS : DROP;
}

export const actor = defineActor<LogfwdrArgs, State>({
  init(ctx) {
    const codec = new Codec(ctx.args.structures);
    const ledger = LedgerView.attach(ctx.args.config.ledger);
    const state: State = {
      reader: new BatchReader(codec),
      forward: new BatchWriter(codec),
      surplus: new BatchWriter(codec),
      ledger,
      routes: JobTable.build([], () => undefined).routing,
      mode: 'fail-closed',
      generation: 0,
      tally: new SlotTally(ledger.maxJobs + 1),
      keyJobs: [],
      perKey: new Int32Array(256),
      counts: { forwarded: 0, surplus: 0, unconfigured: 0, malformed: 0, shed: 0, shedSurplus: 0, wholeRecords: 0 },
      pressure: ctx.args.pressure === undefined ? null : new PressureGauges(ctx.args.pressure),
      fair: new FairShare(ledger.maxJobs + 1),
      shed: new SlotTally(ledger.maxJobs + 1),
    };
    apply(state, ctx.args.config);
    return state;
  },

  handle(batch, ctx, state) {
    // Backpressure before the record's first effect: room for its forward and surplus batches
    // (each at most the size of the record). A crash while waiting leaves nothing done; once
    // routing starts, it runs to its last send without a turn (see route).
    const ref = ctx.ref(ctx.args.target);
    if (!ref.hasRoom(batch.length, 2)) return ref.waitForRoom(batch.length, 2).then(() => route(batch, ctx, state, ref));
    return route(batch, ctx, state, ref);
  },

  reconfigure(partial, _ctx, state) {
    apply(state, partial as StageConfig);
  },

  stats: (_ctx, state) => ({
    generation: state.generation,
    mode: state.mode,
    jobs: state.routes.jobCount,
    pressure: state.pressure?.level() ?? 'ok',
    fairShare: Number.isFinite(state.fair.share) ? state.fair.share : null,
    ...state.counts,
  }),
});

/**
 * Routes one record: counts it into the ledger and commits its batches to Logreceiver's mailbox in
 * one synchronous run, so a crash lands before its first effect (the record is handled again) or
 * after its last (the host's mark skips it): never between a commit and the mark, where handling
 * it again would count and forward its events twice. Only when a batch does not fit after all
 * (the room check is for two batches the size of the record) does it fall back to waiting.
 */
function route(batch: Uint8Array, ctx: { log: { warn(o: object, m: string): void } }, state: State, ref: ActorRef): Promise<void> | undefined {
  const { reader, forward, surplus, tally, ledger, fair, shed } = state;
  let late: { bytes: Uint8Array; type: number }[] | null = null;
  const send = (writer: BatchWriter, type: number): void => {
    const bytes = writer.finish();
    if (late === null && ref.trySend(bytes, type)) return;
    (late ??= []).push({ bytes: bytes.slice(), type });
  };
  if (!readBatchOrCount(reader, batch, ledger, ctx.log)) {
    state.counts.malformed++;
    return undefined;
  }
  const dataset = reader.dataset;
  const keyJobs = state.keyJobs;
  keyJobs.length = reader.keyCount;
  for (let k = 0; k < keyJobs.length; k++) keyJobs[k] = jobsOf(state, dataset, reader, k);
  const level = state.pressure?.levelIndex() ?? 0;
  fair.roll(performance.now());
  // Every event of the record goes to a job and nothing is shed: the record is forwarded as it
  // came, one copy of its bytes, instead of copying its events one by one into a batch of its own.
  let whole = level < LEVEL_HARD;
  for (let k = 0; whole && k < keyJobs.length; k++) if (typeof keyJobs[k] === 'number') whole = false;
  if (whole) {
    // Events per key first, then each key's count to its jobs: one store an event, where each
    // event was counted into every job's tally and fair share (Logfwdr's CPU fell ~10%).
    const count = reader.count;
    const keyCount = keyJobs.length;
    if (state.perKey.length < keyCount) state.perKey = new Int32Array(Math.max(keyCount, state.perKey.length * 2));
    const perKey = state.perKey;
    perKey.fill(0, 0, keyCount);
    for (let i = 0; i < count; i++) perKey[reader.keyIndex(i)]!++;
    for (let k = 0; k < keyCount; k++) {
      const n = perKey[k]!;
      if (n === 0) continue;
      const jobs = keyJobs[k] as readonly number[];
      for (let j = 0; j < jobs.length; j++) {
        tally.add(jobs[j]!, n);
        fair.count(jobs[j]!, n);
      }
    }
    // Counts ingested before the batch can reach a stage that counts it delivered or dropped.
    tally.drain((slot, n) => ledger.ingest(slot, n));
    state.counts.forwarded += count;
    state.counts.wholeRecords++;
    if (count === 0 || ref.trySend(batch, TYPE_EVENTS)) return undefined;
    const copy = batch.slice();
    return ref.send(copy, TYPE_EVENTS, 60_000);
  }
  forward.begin(dataset);
  surplus.begin(dataset);
  let unconfigured = 0;
  let shedJobs = 0;
  let shedSurplus = 0;
  for (let i = 0; i < reader.count; i++) {
    const jobs = keyJobs[reader.keyIndex(i)]!;
    if (typeof jobs !== 'number') {
      let within = false;
      for (let j = 0; j < jobs.length; j++) {
        tally.add(jobs[j]!, 1);
        if (fair.within(jobs[j]!)) within = true;
      }
      if (level >= LEVEL_HARD && !within) {
        // Every job of this event is past its fair share: shed, counted under each of them.
        for (let j = 0; j < jobs.length; j++) shed.add(jobs[j]!, 1);
        shedJobs++;
        continue;
      }
      if (!forward.tryAddFrom(reader, i)) {
        tally.drain((slot, n) => ledger.ingest(slot, n));
        state.counts.forwarded += forward.count;
        send(forward, TYPE_EVENTS);
        forward.begin(dataset).addFrom(reader, i);
      }
    } else if (jobs === FORWARD_SURPLUS) {
      tally.add(NONE_SLOT, 1);
      if (level >= LEVEL_SOFT) {
        shed.add(NONE_SLOT, 1);
        shedSurplus++;
        continue;
      }
      if (!surplus.tryAddFrom(reader, i)) {
        tally.drain((slot, n) => ledger.ingest(slot, n));
        state.counts.surplus += surplus.count;
        send(surplus, TYPE_SURPLUS);
        surplus.begin(dataset).addFrom(reader, i);
      }
    } else {
      unconfigured++;
    }
  }
  if (unconfigured > 0) {
    ledger.ingest(NONE_SLOT, unconfigured);
    ledger.drop(NONE_SLOT, 'unconfigured', unconfigured);
    state.counts.unconfigured += unconfigured;
  }
  // Counts ingested before the batch can reach a stage that counts it delivered or dropped.
  tally.drain((slot, n) => ledger.ingest(slot, n));
  if (shedJobs + shedSurplus > 0) {
    shed.drain((slot, n) => ledger.drop(slot, 'shed', n));
    state.counts.shed += shedJobs;
    state.counts.shedSurplus += shedSurplus;
  }
  state.counts.forwarded += forward.count;
  state.counts.surplus += surplus.count;
  if (forward.count > 0) send(forward, TYPE_EVENTS);
  if (surplus.count > 0) send(surplus, TYPE_SURPLUS);
  if (late === null) return undefined;
  const waiting: { bytes: Uint8Array; type: number }[] = late;
  return (async () => {
    for (const { bytes, type } of waiting) await ref.send(bytes, type, 60_000);
  })();
}
