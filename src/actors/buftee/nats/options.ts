/**
 * The NATS JetStream backend of Buftee: its options, their finite defaults, and the names it
 * gives streams, subjects and consumers.
 *
 * The mapping (README "Buftee on NATS JetStream"):
 *   - a stream per dataset, `<STREAM>_<dataset>` (STREAM = the prefix upper-cased), holding the
 *     subjects `<prefix>.<dataset>.>`; a subject per job, `<prefix>.<dataset>.<job>`;
 *   - the fail-open surplus (zones without a job) in a stream of its own, `<STREAM>__surplus`,
 *     subjects `<prefix>._surplus.zone-<id>`, which no consumer reads and `max_age` empties;
 *   - one durable pull consumer per Logpush worker and dataset (`consumers`), filtered on the
 *     dataset's wildcard: the number of consumers never grows with the number of jobs.
 *
 * Every name that comes from outside (prefix, consumer, job id, dataset) is checked against
 * NAME_PATTERN before it reaches a subject: no `.`, `*`, `>` or white space can widen one.
 */

import { NAME_PATTERN } from '../../job.js';

export const ROLES = ['all', 'edge', 'push'] as const;
/** all: one process runs every stage; edge: sources to Buftee's publisher; push: Buftee's consumer and Logpush. */
export type Role = (typeof ROLES)[number];

export interface NatsBufteeOptions {
  /** nats-server URLs, e.g. ['nats://127.0.0.1:4222']. */
  servers: readonly string[];
  /** Subject prefix (and, upper-cased, the stream prefix). Default `seatbelt`. */
  prefix?: string;
  /** Stream replicas: 1, or 3 on a cluster. Default 1. */
  replicas?: number;
  /** The durable consumers that read every job stream: several make the tee. Default ['logpush']. */
  consumers?: readonly string[];
  /** The consumer this process reads with (push and all). Default the first of `consumers`. */
  consumer?: string;
  /** JetStream's max_msgs_per_subject (discard new per subject): a job's buffer, in batches. Default 4,096. */
  maxMsgsPerSubject?: number;
  /** A stream's max_msgs. Default 1,000,000. */
  maxMsgs?: number;
  /** A message's largest size (max_msg_size): a batch is at most 1 MiB plus its header. Default 1 MiB + 64 KiB. */
  maxMsgBytes?: number;
  /** Unacknowledged messages per consumer (max_ack_pending). Default 4,096. */
  maxAckPending?: number;
  /** A consumer's ack_wait; Buftee marks slow batches `working` well before it. Default 30 s. */
  ackWaitMs?: number;
  /** Bytes Buftee's consumer holds fetched and not acked; it stops fetching above it. Default 64 MiB. */
  maxPendingBytes?: number;
  /** Messages asked for by one fetch. Default 256. */
  fetchBatch?: number;
  /** How long a publish keeps retrying while JetStream is unavailable, then the batch is dropped `buffer_limit`. Default 60 s. */
  publishTimeoutMs?: number;
  /** One publish attempt's timeout. Default 5 s. */
  requestTimeoutMs?: number;
  /** Publishes an edge process has unacknowledged at once (each batch is one). Default 32. */
  maxInFlightPublishes?: number;
  /** JetStream's de-duplication window (duplicate_window). Default 2 min. */
  duplicateWindowMs?: number;
  /** How often Buftee reads the streams' state (subjects, bytes) for its pressure. Default 1 s. */
  stateEveryMs?: number;
}

export type ResolvedNatsOptions = Required<NatsBufteeOptions>;

export const NATS_DEFAULTS = Object.freeze({
  prefix: 'seatbelt',
  replicas: 1,
  consumers: Object.freeze(['logpush']) as readonly string[],
  maxMsgsPerSubject: 4096,
  maxMsgs: 1_000_000,
  maxMsgBytes: (1 << 20) + (64 << 10),
  maxAckPending: 4096,
  ackWaitMs: 30_000,
  maxPendingBytes: 64 << 20,
  fetchBatch: 256,
  publishTimeoutMs: 60_000,
  requestTimeoutMs: 5_000,
  maxInFlightPublishes: 32,
  duplicateWindowMs: 120_000,
  stateEveryMs: 1_000,
});

export class NatsOptionsError extends Error {
  readonly code = 'ERR_NATS_OPTIONS';
}

function positive(path: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!(Number.isSafeInteger(value) && value > 0 && value <= max)) throw new NatsOptionsError(`buftee.nats.${path}: expected an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
  return value;
}

function name(path: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new NatsOptionsError(`buftee.nats.${path}: expected a name of letters, digits, '_' and '-' (at most 64, no '.', '*', '>'), got ${JSON.stringify(value)}`);
  }
  return value;
}

export function resolveNatsOptions(options: NatsBufteeOptions): ResolvedNatsOptions {
  const o = { ...NATS_DEFAULTS, ...options };
  if (!Array.isArray(o.servers) || o.servers.length === 0) throw new NatsOptionsError('buftee.nats.servers: expected at least one server URL');
  for (const [i, s] of o.servers.entries()) {
    if (typeof s !== 'string' || !/^(nats|tls|ws|wss):\/\/[^\s]+$|^[^\s/]+:\d+$/.test(s)) throw new NatsOptionsError(`buftee.nats.servers[${i}]: expected a URL like nats://host:4222, got ${JSON.stringify(s)}`);
  }
  name('prefix', o.prefix);
  if (o.replicas !== 1 && o.replicas !== 3 && o.replicas !== 5) throw new NatsOptionsError(`buftee.nats.replicas: expected 1, 3 or 5, got ${JSON.stringify(o.replicas)}`);
  if (!Array.isArray(o.consumers) || o.consumers.length === 0 || o.consumers.length > 16) throw new NatsOptionsError('buftee.nats.consumers: expected 1 to 16 consumer names');
  o.consumers.forEach((c, i) => name(`consumers[${i}]`, c));
  const consumer = options.consumer ?? o.consumers[0]!;
  name('consumer', consumer);
  if (!o.consumers.includes(consumer)) throw new NatsOptionsError(`buftee.nats.consumer: ${JSON.stringify(consumer)} is not one of consumers (${o.consumers.join(', ')})`);
  positive('maxMsgsPerSubject', o.maxMsgsPerSubject, 1_000_000);
  positive('maxMsgs', o.maxMsgs);
  positive('maxMsgBytes', o.maxMsgBytes, 64 << 20);
  positive('maxAckPending', o.maxAckPending, 1_000_000);
  positive('ackWaitMs', o.ackWaitMs);
  positive('maxPendingBytes', o.maxPendingBytes);
  positive('fetchBatch', o.fetchBatch, 10_000);
  positive('publishTimeoutMs', o.publishTimeoutMs);
  positive('requestTimeoutMs', o.requestTimeoutMs);
  positive('duplicateWindowMs', o.duplicateWindowMs);
  positive('maxInFlightPublishes', o.maxInFlightPublishes, 4096);
  positive('stateEveryMs', o.stateEveryMs);
  return { ...o, servers: [...o.servers], consumers: [...o.consumers], consumer };
}

/** The stream of a dataset's jobs. */
export function jobStream(prefix: string, dataset: string): string {
  return `${prefix.toUpperCase()}_${dataset}`;
}

export const SURPLUS = '_surplus';

export function surplusStream(prefix: string): string {
  return `${prefix.toUpperCase()}_${SURPLUS}`;
}

/** `<prefix>.<dataset>.<job>`; both names were checked against NAME_PATTERN before. */
export function jobSubject(prefix: string, dataset: string, job: string): string {
  if (!NAME_PATTERN.test(dataset) || !NAME_PATTERN.test(job)) throw new NatsOptionsError(`not a subject-safe name: ${JSON.stringify(dataset)}.${JSON.stringify(job)}`);
  return `${prefix}.${dataset}.${job}`;
}

export function surplusSubject(prefix: string, zone: number): string {
  return `${prefix}.${SURPLUS}.zone-${zone >>> 0}`;
}
