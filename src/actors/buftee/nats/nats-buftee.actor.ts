/**
 * Buftee on NATS JetStream: the same stage as the embedded Buftee (buftee.actor.ts) to the
 * stages around it — Logreceiver's job batches in, Logpush's batches out with acks and
 * HELLO/RESYNC (messages.ts), pressure in shared memory for Logfwdr (pressure.ts), every refusal
 * in the ledger — with the buffers in JetStream streams instead of this thread's heap.
 *
 * Roles (options.ts): `edge` publishes (a process of sources, Logfwdr, Logreceiver), `push`
 * consumes (a process of Logpush), `all` does both in one process.
 *
 * Publishing: one message per job batch, the ring record as it came (JobHeader + msgpack batch:
 * nothing re-encoded), with the message id `<process nonce>.<Logreceiver's batch id>`. At most
 * maxInFlightPublishes are unacknowledged; each is recorded in shared memory (in-flight.ts) until
 * it settles, and a successor asks JetStream which of its crashed predecessor's were stored
 * (counted as stored) and which not (counted `crashed`; a tombstone with the id keeps them out). A publish retried after a lost PubAck
 * keeps its id: JetStream's de-duplication keeps one copy. JetStream's refusals become the embedded Buftee's
 * reasons: `maximum messages per subject exceeded` is the job's buffer full (`block` retries for
 * blockMs, then `buffer_full`; drop_newest and drop_oldest drop at once — discard-old would drop
 * messages nobody could count); a full stream is `buffer_limit` and pressure `hard` for a second;
 * no leader, no responders or a lost connection retry with backoff (pressure `soft`) for
 * publishTimeoutMs, then `buffer_limit`.
 *
 * Ledger: in an edge process a batch JetStream acknowledged is counted `delivered` (its
 * destination is the stream); in a push process a message is counted `ingested` when it first
 * arrives; in `all` nothing is counted twice (the source counted the ingest, Logpush the delivery).
 * Surplus (fail-open zones) has no reader: counted `unconfigured` once stored, emptied by max_age.
 *
 * Consuming: per dataset one durable pull consumer (the process's `consumer`), filtered on the
 * dataset's wildcard. Messages wait in per-job queues; jobs take turns, each with at most
 * windowBytes sent to Logpush and not acked, so a failing destination holds only its job's
 * messages (up to maxPendingBytes in all, then fetching pauses). Logpush's ack of a job's batches
 * acks their messages with a confirmed ack (retried until JetStream confirms); a batch held
 * longer than a third of ack_wait is marked `working`, so JetStream does not redeliver it.
 *
 * A confirmed ack is not always a kept one: a nats-server that is shutting down (seen with 2.9.10
 * on SIGTERM) goes on answering acks after it has written its consumers' state, and the restarted
 * server hands those messages out again. So the acks JetStream confirmed in the last
 * RECENT_ACK_MS before a disconnect are sent again once reconnected (JetStream answers the ack of a
 * message it no longer holds too), and for two ack_waits a message with one of their stream
 * sequences and message ids is acked again and skipped, not delivered a second time.
 */

import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { defineActor, type ActorContext } from '../../../runtime/actor.js';
import type { ActorRef } from '../../../runtime/actor-ref.js';
import { RingConsumer, type RecordHandler } from '../../../native/ring-consumer.js';
import { LedgerView, NONE_SLOT } from '../../ledger.js';
import {
  JOB_HEADER_BYTES,
  OFFSET_LIFE,
  TYPE_JOB_BATCH,
  TYPE_ZONE_BATCH,
  readJobHeader,
  writeJobHeader,
  type AckRecord,
  type JobHeader,
} from '../../messages.js';
import type { DropReason } from '../../job.js';
import { enabledJobs, type StageConfig } from '../../stage-config.js';
import { level as levelOf, resolveOptions, worst, type BufteeOptions, type OverflowPolicy, type Pressure } from '../limits.js';
import { PressureGauges } from '../pressure.js';
import { ackRingHandler, joinLink, sendResyncs } from '../resync.js';
import { TokenBucket } from '../token-bucket.js';
import { jobStream, jobSubject, surplusStream, surplusSubject, type ResolvedNatsOptions, type Role } from './options.js';
import { InFlightTable, JOB, SURPLUS } from './in-flight.js';

export interface NatsBufteeArgs {
  role: Role;
  nats: ResolvedNatsOptions;
  /** The process's id in message ids: a batch published again (after a crash) is a duplicate. */
  nonce: string;
  config: StageConfig;
  buftee?: BufteeOptions;
  /** Logpush (push and all). */
  target?: string;
  acks?: SharedArrayBuffer;
  link?: SharedArrayBuffer;
  pressure?: SharedArrayBuffer;
  windowBytes?: number;
  blockMs?: number;
  /** The publisher's unacknowledged publishes (in-flight.ts); absent: one publish at a time. */
  inFlight?: SharedArrayBuffer;
}

type Ctx = ActorContext<NatsBufteeArgs>;

/**
 * An ack JetStream confirmed: kept for RECENT_ACK_MS, and after a disconnect (when the server may
 * have lost it) until it is confirmed again and `until` has passed.
 */
interface ConfirmedAck {
  key: string;
  /** The message's ack subject. */
  reply: string;
  /** Its Nats-Msg-Id (`<nonce>.<batch id>`), '' if none. */
  msgId: string;
  /** When JetStream confirmed it (performance.now()). */
  at: number;
  /** After a disconnect: to be sent again; then, when the guard ends. */
  resend: boolean;
  until: number;
}

/** A fetched message, from arrival until JetStream confirmed its ack. */
interface Pending {
  key: string;
  msg: JsMsg;
  events: number;
  bytes: number;
  /** Offset given when sent to Logpush; -1 until then. */
  offset: number;
  /** When it arrived or was last marked working. */
  touchedAt: number;
  acking: boolean;
}

interface Job {
  id: string;
  slot: number;
  dataset: string;
  subject: string;
  overflow: OverflowPolicy;
  /** Fetched and not acked by Logpush, in arrival order; the first `sent` were sent. */
  queue: Pending[];
  sent: number;
  inFlightBytes: number;
}

interface State {
  args: NatsBufteeArgs;
  nc: NatsConnection | null;
  js: JetStreamClient | null;
  jsm: JetStreamManager | null;
  /** Resolves when the connection is up and the streams and consumers exist. */
  ready: Promise<void>;
  isReady: boolean;
  ledger: LedgerView;
  byId: Map<string, Job>;
  bySlot: Map<number, Job>;
  datasets: Set<string>;
  ensured: Set<string>;
  consumers: Map<string, Consumer>;
  pullers: Map<string, Promise<void>>;
  failOpen: boolean;
  pulling: boolean;
  stopped: boolean;
  /** Messages held by the consumer side, by `<stream>:<seq>`. */
  pending: Map<string, Pending>;
  pendingBytes: number;
  ackRetries: Pending[];
  /** Acks JetStream confirmed in the last RECENT_ACK_MS, oldest first. */
  confirmed: ConfirmedAck[];
  /** Acks confirmed shortly before a disconnect, by key: sent again after it, and guarded. */
  suspect: Map<string, ConfirmedAck>;
  ready_: Set<string>;
  base: number;
  offsetCounter: number;
  resyncs: number[];
  lastHello: number;
  header: JobHeader;
  ack: AckRecord;
  ackRing: RingConsumer | null;
  onAck: RecordHandler;
  pressure: PressureGauges | null;
  limits: ReturnType<typeof resolveOptions>;
  bucket: TokenBucket;
  surplusSubjects: Set<string>;
  streamState: { subjects: number; bytes: number; messages: number; at: number };
  fullUntil: number;
  unavailableSince: number;
  counts: {
    published: number;
    duplicates: number;
    subjectFull: number;
    streamFull: number;
    unavailable: number;
    retries: number;
    fetched: number;
    redelivered: number;
    sent: number;
    acked: number;
    ackRetries: number;
    working: number;
    pullErrors: number;
    logpushHellos: number;
    /** Connections to the NATS server lost, and regained (the client reconnects by itself). */
    disconnects: number;
    reconnects: number;
    recovered: number;
    /** Acks confirmed just before a disconnect, sent again after it. */
    reacks: number;
    /** Messages handed out again after their ack had been confirmed: acked again, not delivered. */
    repeats: number;
  };
  lastLogAt: Map<string, number>;
  log: Ctx['log'];
  /**
   * Closed from a disconnect until, reconnected, every job stream's consumers answer again:
   * an interest stream keeps a message only for consumers it knows, and a restarted server that
   * takes publishes before it has restored its consumers drops them (seen with 2.9.10).
   */
  gate: Promise<void> | null;
  inFlight: InFlightTable | null;
  publishing: Set<Promise<void>>;
  /** Resolves once what a crashed predecessor had in flight is counted (stored, or crashed). */
  recovered: Promise<void>;
  /**
   * Batch ids recover() counted: a predecessor killed after recording a publish and before its
   * ring record was marked handled leaves that record to be handled again; it is skipped.
   */
  resolved: Set<number>;
}

/**
 * How long an ack JetStream confirmed is still at risk of a server shutdown: acks confirmed this
 * long before a disconnect are sent again after it. (A shutting-down server was seen answering
 * acks for about 80 ms after it had saved its consumers' state; this leaves room for a loaded host.)
 */
export const RECENT_ACK_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nanos = (ms: number): number => ms * 1_000_000;

type Refusal = 'subject_full' | 'stream_full' | 'unavailable' | 'other';

/** JetStream's refusals, by the API error codes and texts of nats-server 2.9–2.11. */
export function classify(error: unknown): Refusal {
  const e = error as { code?: unknown; message?: unknown; name?: unknown };
  const text = `${String(e?.message ?? '')} ${String(e?.code ?? '')} ${String(e?.name ?? '')}`.toLowerCase();
  if (text.includes('maximum messages per subject exceeded') || text.includes('10077')) return 'subject_full';
  if (text.includes('maximum bytes exceeded') || text.includes('maximum messages exceeded') || text.includes('insufficient resources') || text.includes('10047') || text.includes('10023')) return 'stream_full';
  // A restarting server answers for a moment without its streams or without JetStream.
  if (/no responders|timeout|timed out|503|no leader|disconnect|closed|connection|reconnect|unavailable|not ready|stream not found|no stream matches|jetstream (is )?not (enabled|available)|10059|10039/.test(text)) return 'unavailable';
  return 'other';
}

function streamConfig(args: NatsBufteeArgs, limits: State['limits'], dataset: string | null): Partial<StreamConfig> & { name: string } {
  const n = args.nats;
  const maxBytes = Number.isFinite(limits.limits.maxTotalBytes) ? limits.limits.maxTotalBytes : -1;
  const common = {
    storage: StorageType.File,
    num_replicas: n.replicas,
    discard: DiscardPolicy.New,
    discard_new_per_subject: true,
    max_msgs_per_subject: n.maxMsgsPerSubject,
    max_msgs: n.maxMsgs,
    max_bytes: maxBytes,
    max_msg_size: n.maxMsgBytes,
    duplicate_window: nanos(n.duplicateWindowMs),
  };
  if (dataset === null) {
    // Nobody reads the surplus: kept for idleTtlMs, as the embedded Buftee evicts idle buffers.
    const ttl = Number.isFinite(limits.limits.idleTtlMs) ? limits.limits.idleTtlMs : 5 * 60_000;
    return { ...common, name: surplusStream(n.prefix), subjects: [`${n.prefix}._surplus.>`], retention: RetentionPolicy.Limits, max_age: nanos(ttl), max_consumers: 1 };
  }
  // One consumer: a work queue (a message stays until acked). Several (the tee): interest (until
  // every consumer acked it).
  const retention = n.consumers.length === 1 ? RetentionPolicy.Workqueue : RetentionPolicy.Interest;
  return { ...common, name: jobStream(n.prefix, dataset), subjects: [`${n.prefix}.${dataset}.>`], retention, max_consumers: Math.max(n.consumers.length, limits.maxConsumersPerBuffer) };
}

async function ensureStream(state: State, dataset: string | null): Promise<void> {
  const jsm = state.jsm!;
  const config = streamConfig(state.args, state.limits, dataset);
  try {
    await jsm.streams.add(config);
  } catch (error) {
    if (!/already in use|exists/i.test(String((error as Error).message))) throw error;
    await jsm.streams.update(config.name, config);
  }
  if (dataset === null) return;
  // Every consumer of the tee exists before the first message: an interest stream keeps nothing for
  // consumers that do not exist yet.
  for (const durable of state.args.nats.consumers) {
    const consumer = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: `${state.args.nats.prefix}.${dataset}.>`,
      ack_wait: nanos(state.args.nats.ackWaitMs),
      max_ack_pending: state.args.nats.maxAckPending,
      max_deliver: -1,
    };
    try {
      await jsm.consumers.add(config.name, consumer);
    } catch (error) {
      if (!/already in use|exists/i.test(String((error as Error).message))) throw error;
      await jsm.consumers.update(config.name, durable, consumer);
    }
  }
}

/** Makes sure every dataset of the config has its stream (and consumers), and the surplus stream. */
async function ensureAll(state: State): Promise<void> {
  const wanted = [...state.datasets].filter((d) => !state.ensured.has(d));
  if (!state.ensured.has('') && state.args.role !== 'push') wanted.push('');
  for (const d of wanted) {
    await ensureStream(state, d === '' ? null : d);
    state.ensured.add(d);
  }
  if (state.args.role !== 'edge') {
    for (const d of state.datasets) {
      if (state.pullers.has(d)) continue;
      state.pullers.set(d, pullLoop(state, d));
    }
  }
}

function apply(state: State, config: StageConfig): void {
  state.ledger.update(config.ledger);
  state.failOpen = config.mode === 'fail-open';
  const enabled = enabledJobs(config.jobs);
  const keep = new Set(enabled.map((j) => j.id));
  for (const [id, job] of state.byId) {
    if (keep.has(id)) continue;
    // A removed job's messages are acked: those sent are Logpush's to count (it no longer runs the
    // job), the rest are counted here, as the embedded Buftee deletes its buffer.
    job.queue.forEach((p, i) => {
      if (i >= job.sent) state.ledger.drop(job.slot, 'unconfigured', p.events);
      ackMessage(state, p);
    });
    state.byId.delete(id);
    state.bySlot.delete(job.slot);
    state.ready_.delete(id);
  }
  for (const j of enabled) {
    const slot = state.ledger.slotOf(j.id);
    if (slot === undefined) continue;
    state.datasets.add(j.dataset);
    const existing = state.byId.get(j.id);
    if (existing !== undefined) {
      existing.overflow = j.overflow ?? state.limits.defaultOverflow;
      continue;
    }
    const job: Job = { id: j.id, slot, dataset: j.dataset, subject: jobSubject(state.args.nats.prefix, j.dataset, j.id), overflow: j.overflow ?? state.limits.defaultOverflow, queue: [], sent: 0, inFlightBytes: 0 };
    state.byId.set(j.id, job);
    state.bySlot.set(slot, job);
  }
  const pull = (config as StageConfig & { pull?: boolean }).pull;
  if (pull !== undefined) state.pulling = pull;
  if (state.isReady) void ensureAll(state).catch((error) => warn(state, null, error, 'could not create a stream or consumer'));
}

function warn(state: State, _ctx: Ctx | null, error: unknown, what: string, kind = 'retry'): void {
  const now = performance.now();
  // One line a second of each kind at most: a long outage is not a log flood.
  if (now - (state.lastLogAt.get(kind) ?? -Infinity) < 1000) return;
  state.lastLogAt.set(kind, now);
  state.log.warn({ err: String((error as Error)?.message ?? error) }, `buftee (nats): ${what}`);
}

/** Publishes one batch until JetStream stores it or refuses it for good; the refusal is counted. */
async function publish(state: State, ctx: Ctx, subject: string, data: Uint8Array, msgID: string, slot: number, events: number, overflow: OverflowPolicy, surplus: boolean): Promise<void> {
  const started = performance.now();
  const n = state.args.nats;
  let delay = 5;
  if (!state.isReady) await Promise.race([state.ready, sleep(n.publishTimeoutMs)]);
  for (;;) {
    let refusal: Refusal;
    try {
      if (state.gate !== null) await Promise.race([state.gate, sleep(n.requestTimeoutMs)]);
      if (!state.isReady || state.gate !== null) throw new Error('JetStream not ready (reconnecting)');
      const ack = await state.js!.publish(subject, data, { msgID, timeout: n.requestTimeoutMs });
      state.counts.published++;
      if (ack.duplicate) state.counts.duplicates++;
      state.unavailableSince = 0;
      // Nobody will read the surplus; a stored job batch is the edge's delivery.
      if (surplus) state.ledger.drop(NONE_SLOT, 'unconfigured', events);
      else if (state.args.role === 'edge') state.ledger.deliver(slot, events);
      return;
    } catch (error) {
      refusal = classify(error);
      const now = performance.now();
      const waited = now - started;
      if (refusal === 'subject_full') {
        state.counts.subjectFull++;
        if (overflow !== 'block' || waited >= (state.args.blockMs ?? 2000)) return drop(state, slot, 'buffer_full', events);
      } else if (refusal === 'stream_full') {
        state.counts.streamFull++;
        state.fullUntil = now + 1000;
        if (overflow !== 'block' || waited >= (state.args.blockMs ?? 2000)) return drop(state, slot, 'buffer_limit', events);
      } else if (refusal === 'unavailable') {
        state.counts.unavailable++;
        if (state.unavailableSince === 0) state.unavailableSince = now;
        if (waited >= n.publishTimeoutMs) return drop(state, slot, 'buffer_limit', events);
      } else {
        warn(state, ctx, error, `publish to ${subject} refused; ${events} events dropped (buffer_limit)`, 'drop');
        return drop(state, slot, 'buffer_limit', events);
      }
      if (refusal === 'unavailable') warn(state, ctx, error, `JetStream unavailable; retrying (waited ${Math.round(waited)} ms)`);
      state.counts.retries++;
      publishPressure(state);
      await sleep(delay);
      delay = Math.min(delay * 2, 500);
    }
  }
}

function drop(state: State, slot: number, reason: DropReason, events: number): void {
  state.ledger.drop(slot, reason, events);
}

/** The pressure Logfwdr reads: the streams' subjects and bytes against the limits, and refusals. */
function pressureLevel(state: State): Pressure {
  const { limits, softLevel } = state.limits;
  const now = performance.now();
  const subjects = Math.max(state.streamState.subjects, state.surplusSubjects.size);
  let level = worst(levelOf(subjects, limits.maxBuffers, softLevel), levelOf(state.streamState.bytes, limits.maxTotalBytes, softLevel));
  if (now < state.fullUntil) level = 'hard';
  if (state.unavailableSince !== 0) level = worst(level, 'soft');
  // The creation rate refusing a subject: the surplus is shed.
  if (state.bucket.used(now) >= state.bucket.capacity * softLevel) level = worst(level, 'soft');
  return level;
}

function publishPressure(state: State): void {
  const subjects = Math.max(state.streamState.subjects, state.surplusSubjects.size);
  state.pressure?.publish(pressureLevel(state), subjects, state.streamState.bytes + state.pendingBytes, state.surplusSubjects.size, state.limits.limits.maxBuffers);
}

/** Reads the streams' state (one request per stream, no subject lists): subjects and bytes. */
async function refreshState(state: State): Promise<void> {
  const jsm = state.jsm;
  if (jsm === null || !state.isReady) return;
  let subjects = 0;
  let bytes = 0;
  let messages = 0;
  const names = [...state.ensured].map((d) => (d === '' ? surplusStream(state.args.nats.prefix) : jobStream(state.args.nats.prefix, d)));
  for (const name of names) {
    const info = await jsm.streams.info(name);
    subjects += info.state.num_subjects ?? 0;
    bytes += info.state.bytes;
    messages += info.state.messages;
  }
  state.streamState = { subjects, bytes, messages, at: performance.now() };
}

/** After a reconnect: every stream and consumer is there again (re-created if the server lost them). */
async function reverify(state: State): Promise<void> {
  for (;;) {
    try {
      const datasets = [...state.ensured];
      state.ensured.clear();
      for (const d of datasets) {
        await ensureStream(state, d === '' ? null : d);
        state.ensured.add(d);
      }
      return;
    } catch (error) {
      warn(state, null, error, 'JetStream not ready after a reconnect; retrying');
      await sleep(200);
    }
  }
}

/**
 * Starts a publish and returns as soon as the in-flight table has room (several publishes in
 * flight: one round trip no longer paces the edge). The ring record is released when handle()
 * returns, so the batch is copied; the table records the publish until it settles, so a
 * successor can tell stored from lost (recover()).
 */
async function startPublish(state: State, ctx: Ctx, kind: typeof JOB | typeof SURPLUS, batchId: number, subject: string, batch: Uint8Array, msgID: string, slot: number, events: number, overflow: OverflowPolicy): Promise<void> {
  const table = state.inFlight;
  const surplus = kind === SURPLUS;
  const ledgerSlot = surplus ? NONE_SLOT : slot;
  if (table === null) return publish(state, ctx, subject, batch, msgID, ledgerSlot, events, overflow, surplus);
  await Promise.race([state.recovered, sleep(state.args.nats.publishTimeoutMs)]);
  while (table.available === 0) await Promise.race(state.publishing);
  const index = table.take(kind, slot, events, batchId);
  const data = batch.slice();
  const settled: Promise<void> = publish(state, ctx, subject, data, msgID, ledgerSlot, events, overflow, surplus).finally(() => {
    table.release(index);
    state.publishing.delete(settled);
  });
  state.publishing.add(settled);
}

const EMPTY = new Uint8Array(0);

/**
 * Was `msgID` stored in the stream that holds `subject`? Publishes an empty tombstone with the
 * same id: a duplicate means the batch was stored; otherwise the tombstone now holds the id, so the
 * batch, should the dead thread's last bytes still reach the server, is refused as a duplicate:
 * either way the answer stays true. (A probe that stores nothing could be overtaken by them.) The
 * consumer acks and skips empty messages.
 */
async function stored(state: State, subject: string, msgID: string): Promise<boolean> {
  for (;;) {
    try {
      const ack = await state.js!.publish(subject, EMPTY, { msgID, timeout: state.args.nats.requestTimeoutMs });
      return ack.duplicate;
    } catch (error) {
      warn(state, null, error, 'probing a crashed publisher\'s batch; retrying');
      await sleep(200);
    }
  }
}

/** Counts what a crashed predecessor had in flight: stored (as a publish would have), or `crashed`. */
async function recover(state: State): Promise<void> {
  const table = state.inFlight;
  if (table === null) return;
  const prefix = state.args.nats.prefix;
  for (const e of table.leftOver()) {
    const msgID = `${state.args.nonce}.${e.batchId}`;
    // A job's stream is its dataset's; probe each job stream (the job may be gone from the config).
    // `_probe` is no job's name (job ids start with a letter or digit): the consumer skips it.
    const dataset = state.bySlot.get(e.slot)?.dataset;
    const subjects = e.kind === SURPLUS ? [surplusSubject(prefix, e.slot)] : (dataset === undefined ? [...state.datasets] : [dataset]).map((d) => `${prefix}.${d}._probe`);
    let found = false;
    for (const subject of subjects) if (!found && (await stored(state, subject, msgID))) found = true;
    if (e.kind === SURPLUS) state.ledger.drop(NONE_SLOT, found ? 'unconfigured' : 'crashed', e.events);
    else if (!found) state.ledger.drop(e.slot, 'crashed', e.events);
    else if (state.args.role === 'edge') state.ledger.deliver(e.slot, e.events);
    state.counts.recovered += e.events;
    state.resolved.add(e.batchId);
    table.release(e.index);
  }
}

// ---- the consumer side ------------------------------------------------------------------------

async function pullLoop(state: State, dataset: string): Promise<void> {
  const n = state.args.nats;
  const stream = jobStream(n.prefix, dataset);
  let backoff = 50;
  while (!state.stopped) {
    if (!state.pulling || state.pendingBytes >= n.maxPendingBytes || state.pending.size >= n.maxAckPending) {
      await sleep(5);
      continue;
    }
    try {
      let consumer = state.consumers.get(dataset);
      if (consumer === undefined) {
        consumer = await state.js!.consumers.get(stream, n.consumer);
        state.consumers.set(dataset, consumer);
      }
      const room = Math.max(1, Math.min(n.fetchBatch, n.maxAckPending - state.pending.size));
      const messages = await consumer.fetch({ max_messages: room, expires: 1000 });
      for await (const m of messages) take(state, stream, m);
      backoff = 50;
    } catch (error) {
      state.counts.pullErrors++;
      warn(state, null, error, `fetching from ${stream} failed; retrying`);
      state.consumers.delete(dataset);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 2000);
    }
  }
}

function take(state: State, stream: string, m: JsMsg): void {
  const key = `${stream}:${m.seq}`;
  const known = state.pending.get(key);
  state.counts.fetched++;
  if (known !== undefined) {
    // Redelivered while we hold it (ack_wait passed, or our ack was lost): the newest handle acks it.
    state.counts.redelivered++;
    known.msg = m;
    known.touchedAt = performance.now();
    if (known.acking) ackMessage(state, known, true);
    return;
  }
  const suspect = state.suspect.get(key);
  if (suspect !== undefined && suspect.msgId === msgIdOf(m)) {
    // Acked and confirmed before a disconnect, and handed out again by the restarted server, which
    // lost the ack: Logpush has it already. Acked again, not delivered or counted twice.
    state.counts.repeats++;
    ackMessage(state, { key, msg: m, events: 0, bytes: 0, offset: -1, touchedAt: performance.now(), acking: false });
    return;
  }
  const data = m.data;
  const events = data.byteLength >= JOB_HEADER_BYTES ? new DataView(data.buffer, data.byteOffset, JOB_HEADER_BYTES).getUint32(4, true) : 0;
  const jobId = m.subject.slice(m.subject.lastIndexOf('.') + 1);
  const job = state.byId.get(jobId);
  const slot = job?.slot ?? state.ledger.slotOf(jobId) ?? NONE_SLOT;
  if (state.args.role === 'push' && events > 0) state.ledger.ingest(slot, events);
  const p: Pending = { key, msg: m, events, bytes: data.byteLength - JOB_HEADER_BYTES, offset: -1, touchedAt: performance.now(), acking: false };
  if (job === undefined || events === 0) {
    // A job this process does not run (or an empty message): counted, and acked. Not held, so
    // not in pendingBytes either.
    if (events > 0) state.ledger.drop(slot, 'unconfigured', events);
    p.bytes = 0;
    ackMessage(state, p);
    return;
  }
  state.pending.set(key, p);
  state.pendingBytes += p.bytes;
  job.queue.push(p);
  state.ready_.add(job.id);
}

const ACK = new TextEncoder().encode('+ACK');
/** The message's ack subject (JsMsg has it at run time; its type leaves it out). */
const replyOf = (m: JsMsg): string => (m as unknown as { reply?: string }).reply ?? '';
const msgIdOf = (m: JsMsg): string => m.headers?.get('Nats-Msg-Id') ?? '';

/**
 * Acks with JetStream's confirmation, retried from the loop until confirmed. Not JsMsg.ackAck: a
 * JsMsg acks once, and an ack lost to a reconnect must be sent again; JetStream answers an ack
 * of a message it no longer holds too, so a repeat is harmless.
 */
function ackMessage(state: State, p: Pending, again = false): void {
  if (p.acking && !again) return;
  // A retry of an ack confirmed meanwhile (by another request): nothing left to do, and the
  // message must not come back into `pending` (its bytes would be taken off twice).
  if (again && state.pending.get(p.key) !== p) return;
  p.acking = true;
  state.pending.set(p.key, p);
  const nc = state.nc;
  const reply = replyOf(p.msg);
  if (nc === null || reply === '') {
    retryAck(state, p);
    return;
  }
  nc.request(reply, ACK, { timeout: state.args.nats.requestTimeoutMs }).then(
    () => finish(state, p),
    () => retryAck(state, p),
  );
}

function retryAck(state: State, p: Pending): void {
  if (state.pending.get(p.key) !== p) return;
  state.counts.ackRetries++;
  state.ackRetries.push(p);
}

function finish(state: State, p: Pending): void {
  if (state.pending.get(p.key) === p) {
    state.pending.delete(p.key);
    state.pendingBytes -= p.bytes;
  }
  state.counts.acked++;
  const reply = replyOf(p.msg);
  if (reply !== '') remember(state, { key: p.key, reply, msgId: msgIdOf(p.msg), at: performance.now(), resend: false, until: 0 });
}

/** Keeps a confirmed ack for RECENT_ACK_MS (a disconnect within it may have lost it). */
function remember(state: State, a: ConfirmedAck): void {
  const confirmed = state.confirmed;
  confirmed.push(a);
  let old = 0;
  while (old < confirmed.length && a.at - confirmed[old]!.at > RECENT_ACK_MS) old++;
  if (old > 64 || old === confirmed.length) confirmed.splice(0, old);
}

/**
 * At a disconnect: the acks confirmed in the last RECENT_ACK_MS may be lost with the server (it
 * answers acks while shutting down, after saving its consumers' state); they are sent again once
 * reconnected, and guarded against a redelivery until then and for two ack_waits after.
 */
function suspectRecentAcks(state: State): void {
  const now = performance.now();
  for (const a of state.confirmed) {
    if (now - a.at > RECENT_ACK_MS) continue;
    a.resend = true;
    a.until = Infinity;
    state.suspect.set(a.key, a);
  }
  state.confirmed = [];
}

/** Sends again the acks a disconnect may have lost (after reconnecting; retried from tend()). */
function resendAcks(state: State): void {
  const nc = state.nc;
  if (nc === null || state.gate !== null) return;
  for (const a of state.suspect.values()) {
    if (!a.resend) continue;
    a.resend = false;
    state.counts.reacks++;
    nc.request(a.reply, ACK, { timeout: state.args.nats.requestTimeoutMs }).then(
      () => {
        // Confirmed by the server now running; at risk again should it stop within RECENT_ACK_MS.
        a.at = performance.now();
        a.until = a.at + 2 * state.args.nats.ackWaitMs;
        remember(state, { ...a, resend: false, until: 0 });
      },
      () => {
        a.resend = true;
      },
    );
  }
}

/** Forgets the guarded acks whose time is up. */
function pruneSuspects(state: State): void {
  const now = performance.now();
  for (const [key, a] of state.suspect) if (!a.resend && now > a.until) state.suspect.delete(key);
}

/** Sends waiting batches to Logpush, one per ready job in turn, until its mailbox is full. */
function pump(state: State, ref: ActorRef): number {
  if (!sendResyncs(ref, state.resyncs, state.base / OFFSET_LIFE)) return 0;
  const window = state.args.windowBytes ?? 8 << 20;
  let sent = 0;
  for (const id of state.ready_) {
    const job = state.byId.get(id);
    const p = job?.queue[job.sent];
    if (job === undefined || p === undefined) {
      state.ready_.delete(id);
      continue;
    }
    if (job.inFlightBytes >= window) continue;
    const claim = ref.tryClaim(JOB_HEADER_BYTES + p.bytes, TYPE_JOB_BATCH);
    if (claim === null) break;
    p.offset = state.base + ++state.offsetCounter;
    const at = claim.bytes.byteOffset + claim.offset;
    writeJobHeader(new DataView(claim.bytes.buffer, at, JOB_HEADER_BYTES), 0, job.slot, p.events, p.offset);
    claim.bytes.set(p.msg.data.subarray(JOB_HEADER_BYTES), claim.offset + JOB_HEADER_BYTES);
    ref.commit();
    job.sent++;
    job.inFlightBytes += p.bytes;
    state.counts.sent++;
    sent++;
    // To the back of the turn order.
    state.ready_.delete(id);
    if (job.sent < job.queue.length) state.ready_.add(id);
  }
  return sent;
}

/** Marks batches held long `working` (JetStream would redeliver them at ack_wait); retries acks. */
function tend(state: State): void {
  const now = performance.now();
  const every = state.args.nats.ackWaitMs / 3;
  for (const p of state.pending.values()) {
    if (p.acking || now - p.touchedAt < every) continue;
    p.touchedAt = now;
    p.msg.working();
    state.counts.working++;
  }
  const retries = state.ackRetries.splice(0);
  for (const p of retries) ackMessage(state, p, true);
  if (state.suspect.size > 0) {
    resendAcks(state);
    pruneSuspects(state);
  }
}

export const actor = defineActor<NatsBufteeArgs, State>({
  init(ctx) {
    const args = ctx.args;
    const limits = resolveOptions(args.buftee);
    for (const warning of limits.warnings) ctx.log.warn({ alert: 'unsafe_limit' }, warning);
    let markReady: () => void = () => {};
    const state: State = {
      args,
      nc: null,
      js: null,
      jsm: null,
      ready: new Promise<void>((resolve) => (markReady = resolve)),
      isReady: false,
      ledger: LedgerView.attach(args.config.ledger),
      byId: new Map(),
      bySlot: new Map(),
      datasets: new Set(),
      ensured: new Set(),
      consumers: new Map(),
      pullers: new Map(),
      failOpen: false,
      pulling: true,
      stopped: false,
      pending: new Map(),
      pendingBytes: 0,
      ackRetries: [],
      confirmed: [],
      suspect: new Map(),
      ready_: new Set(),
      base: ctx.restartCount * OFFSET_LIFE,
      offsetCounter: 0,
      resyncs: [],
      lastHello: 0,
      header: { slot: 0, events: 0, offset: 0 },
      ack: { slot: 0, events: 0, offset: 0, delivered: 0, failed: 0 },
      ackRing: args.acks === undefined ? null : new RingConsumer(args.acks),
      onAck: () => {},
      pressure: args.pressure === undefined ? null : new PressureGauges(args.pressure),
      limits,
      bucket: new TokenBucket(limits.limits.maxNewBuffersPerSecond, performance.now()),
      surplusSubjects: new Set(),
      streamState: { subjects: 0, bytes: 0, messages: 0, at: 0 },
      fullUntil: 0,
      unavailableSince: 0,
      counts: { published: 0, duplicates: 0, subjectFull: 0, streamFull: 0, unavailable: 0, retries: 0, fetched: 0, redelivered: 0, sent: 0, acked: 0, ackRetries: 0, working: 0, pullErrors: 0, logpushHellos: 0, disconnects: 0, reconnects: 0, recovered: 0, reacks: 0, repeats: 0 },
      lastLogAt: new Map(),
      log: ctx.log,
      gate: null,
      inFlight: args.inFlight === undefined ? null : new InFlightTable(args.inFlight),
      publishing: new Set(),
      recovered: Promise.resolve(),
      resolved: new Set(),
    };
    let markRecovered: () => void = () => {};
    state.recovered = new Promise<void>((resolve) => (markRecovered = resolve));
    const hello = (nonce: number): void => {
      if (nonce === 0 || nonce === state.lastHello) return;
      state.lastHello = nonce;
      // A new Logpush: what was sent and not acked is sent again after a RESYNC.
      state.resyncs.push(nonce);
      for (const job of state.byId.values()) {
        job.sent = 0;
        job.inFlightBytes = 0;
        if (job.queue.length > 0) state.ready_.add(job.id);
      }
      state.counts.logpushHellos++;
    };
    state.onAck = ackRingHandler(state.ack, hello, (ack) => {
      const job = state.bySlot.get(ack.slot);
      if (job === undefined || ack.offset < state.base || ack.offset >= state.base + OFFSET_LIFE) return;
      let done = 0;
      while (done < job.sent && job.queue[done]!.offset <= ack.offset) done++;
      if (done === 0) return;
      for (const p of job.queue.splice(0, done)) {
        job.inFlightBytes -= p.bytes;
        ackMessage(state, p);
      }
      job.sent -= done;
      if (job.queue.length > job.sent) state.ready_.add(job.id);
    });
    apply(state, args.config);
    joinLink(args.link, ctx.restartCount, hello);
    // Connects in the background (a server not up yet is waited for, not a boot failure).
    void (async () => {
      const nc = await connect({ servers: [...args.nats.servers], name: `seatbelt-${args.role}-${ctx.id}`, waitOnFirstConnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 5_000 });
      state.nc = nc;
      state.js = jetstream(nc, { timeout: args.nats.requestTimeoutMs });
      for (;;) {
        try {
          state.jsm = await jetstreamManager(nc, { timeout: args.nats.requestTimeoutMs });
          state.isReady = true;
          await ensureAll(state);
          break;
        } catch (error) {
          state.isReady = false;
          warn(state, ctx, error, 'JetStream not ready; retrying');
          await sleep(500);
        }
      }
      markReady();
      // New publishes wait (up to publishTimeoutMs) until the predecessor's are counted.
      void recover(state).then(markRecovered, (error: unknown) => {
        ctx.log.error({ err: String(error) }, 'buftee (nats): counting a crashed predecessor\'s publishes failed');
        markRecovered();
      });
      let reopen: () => void = () => {};
      void (async () => {
        for await (const s of nc.status()) {
          if (s.type === 'disconnect') {
            state.counts.disconnects++;
            if (state.args.role !== 'edge') suspectRecentAcks(state);
            if (state.gate === null) state.gate = new Promise<void>((resolve) => (reopen = resolve));
            if (state.unavailableSince === 0) state.unavailableSince = performance.now();
            ctx.log.warn({ server: (s as { server?: string }).server }, 'buftee (nats): disconnected; reconnecting');
          } else if (s.type === 'reconnect') {
            state.counts.reconnects++;
            state.unavailableSince = 0;
            void reverify(state).then(() => {
              state.gate = null;
              reopen();
              resendAcks(state);
            });
            ctx.log.info({ server: (s as { server?: string }).server }, 'buftee (nats): reconnected');
          }
        }
      })().catch(() => {});
    })().catch((error) => ctx.log.error({ err: String(error) }, 'buftee (nats): could not connect'));
    publishPressure(state);
    return state;
  },

  async handle(batch, ctx, state, type) {
    if (type !== TYPE_JOB_BATCH && type !== TYPE_ZONE_BATCH) throw new Error(`buftee got a message of unknown type ${type}`);
    const header = readJobHeader(new DataView(batch.buffer, batch.byteOffset, batch.byteLength), 0, state.header);
    const events = header.events;
    if (state.inFlight !== null) {
      await Promise.race([state.recovered, sleep(state.args.nats.publishTimeoutMs)]);
      // Counted by recover(): its predecessor recorded the publish but died before marking the record.
      if (state.resolved.delete(header.offset)) return;
    }
    const msgID = `${state.args.nonce}.${header.offset}`;
    if (type === TYPE_JOB_BATCH) {
      const job = state.bySlot.get(header.slot);
      if (job === undefined) {
        state.ledger.drop(header.slot, 'unconfigured', events);
        return;
      }
      await startPublish(state, ctx, JOB, header.offset, job.subject, batch, msgID, job.slot, events, job.overflow);
      return;
    }
    // Fail-open surplus of one zone: a subject of its own, within the subject cap and creation rate.
    const subject = surplusSubject(state.args.nats.prefix, header.slot);
    if (!state.surplusSubjects.has(subject)) {
      const now = performance.now();
      const { limits, softLevel } = state.limits;
      const subjects = Math.max(state.streamState.subjects, state.surplusSubjects.size);
      if (subjects >= limits.maxBuffers * softLevel || pressureLevel(state) !== 'ok' || !state.bucket.tryTake(now)) {
        state.ledger.drop(NONE_SLOT, 'buffer_limit', events);
        return;
      }
      state.surplusSubjects.add(subject);
    }
    await startPublish(state, ctx, SURPLUS, header.offset, subject, batch, msgID, header.slot, events, 'drop_newest');
  },

  async flush(_ctx, state) {
    // Drained: every publish settled (stored, or counted) before the drain answers.
    while (state.publishing.size > 0) await Promise.all(state.publishing);
  },

  async run(ctx, state) {
    const ref = state.args.target === undefined ? null : ctx.ref(state.args.target);
    let stateAt = 0;
    let refreshing = false;
    while (!ctx.signal.aborted) {
      if (state.ackRing !== null) {
        state.ackRing.read(state.onAck);
        state.ackRing.release();
      }
      const sent = ref === null ? 0 : pump(state, ref);
      const now = performance.now();
      if (now - stateAt >= state.args.nats.stateEveryMs && !refreshing) {
        stateAt = now;
        tend(state);
        if (!state.failOpen && state.surplusSubjects.size > 0) {
          // Fail-open is over: its surplus has no reader; JetStream's max_age empties it.
          state.surplusSubjects.clear();
          if (state.isReady) void state.jsm?.streams.purge(surplusStream(state.args.nats.prefix)).catch(() => {});
        }
        if (state.args.role !== 'push') {
          refreshing = true;
          void refreshState(state)
            .catch((error) => warn(state, ctx, error, 'reading the streams state failed'))
            .finally(() => (refreshing = false));
        }
      }
      publishPressure(state);
      await sleep(sent > 0 ? 0 : 2);
    }
  },

  reconfigure(partial, _ctx, state) {
    apply(state, partial as StageConfig);
  },

  async stop(_ctx, state) {
    state.stopped = true;
    // Messages fetched and not delivered go back to JetStream at once for the next consumer.
    for (const p of state.pending.values()) if (!p.acking) p.msg.nak();
    await state.nc?.drain().catch(() => {});
  },

  stats: (_ctx, state) => ({
    backend: 'nats',
    role: state.args.role,
    ready: state.isReady,
    subjects: state.streamState.subjects,
    streamBytes: state.streamState.bytes,
    streamMessages: state.streamState.messages,
    surplusSubjects: state.surplusSubjects.size,
    pendingMessages: state.pending.size,
    pendingBytes: state.pendingBytes,
    level: pressureLevel(state),
    ...state.counts,
  }),
});
