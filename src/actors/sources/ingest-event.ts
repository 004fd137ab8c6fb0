/**
 * The boundary check every event from outside passes (NDJSON over TCP or HTTP, msgpack over HTTP,
 * `pipeline.ingest()`): is it an event of a dataset we carry, with a zone to route it by?
 *
 * Decisions, in this order (the first that fails is the event's ledger reason):
 *   1. dataset: a name that fails NAME_PATTERN is `malformed` (it cannot even be a metric label);
 *      a well-formed name outside DATASETS is `unconfigured`: no job can ever be configured for it,
 *      which is the ledger's meaning of the word. Its events are not validated further.
 *   2. the value must be an object, a JSON object or msgpack map (not an array, null, a string or a
 *      number): else `malformed`.
 *   3. ZoneID must be a positive safe integer (a number: "123" is refused, as Cloudflare types it
 *      int): else `malformed`. The routing key is String(ZoneID), as the edge generator's.
 *   4. the dataset's time field (EdgeStartTimestamp, Datetime), when present, must be unix ns (a
 *      finite number >= 0) or an RFC 3339 string (read to the millisecond): else `malformed`. When
 *      absent the event is timed by its arrival. It becomes the batch timestamp.
 *
 * Nothing here throws on bad input: a rejection is a value with a reason and a message.
 */

import { DATASETS, NAME_PATTERN, type Dataset, type DropReason } from '../job.js';
import { describeValue } from '../../runtime/errors.js';
import { TIMESTAMP_FIELD } from './structures.js';

export interface IngestEvent {
  dataset: Dataset;
  zoneId: number;
  /** The routing key: String(zoneId). */
  key: string;
  /** Unix ns: the dataset's time field, or the arrival time. */
  timestamp: number;
  /** The event as received: the codec encodes it into a batch. */
  event: Record<string, unknown>;
}

export type IngestReason = Extract<DropReason, 'malformed' | 'unconfigured'>;

export type ToEventResult = { ok: true; event: IngestEvent } | { ok: false; reason: IngestReason; message: string };

/** Validates one event of `dataset` received at `receivedNs` (unix ns). */
export function toEvent(dataset: string, value: unknown, receivedNs: number): ToEventResult {
  const known = checkDataset(dataset);
  if (known !== null) return known;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return reject('malformed', `an event must be an object (a JSON object or msgpack map), got ${kindOf(value)}`);
  }
  const event = value as Record<string, unknown>;
  const zoneId = event.ZoneID;
  if (!(typeof zoneId === 'number' && Number.isSafeInteger(zoneId) && zoneId > 0)) {
    return reject('malformed', `ZoneID must be a positive integer, got ${zoneId === undefined ? 'none' : describeValue(zoneId)}`);
  }
  const field = TIMESTAMP_FIELD[dataset as Dataset];
  const timestamp = timeOf(event[field], receivedNs);
  if (timestamp === null) return reject('malformed', `${field} must be unix ns or an RFC 3339 time, got ${describeValue(event[field])}`);
  return { ok: true, event: { dataset: dataset as Dataset, zoneId, key: String(zoneId), timestamp, event } };
}

/** Null for a dataset we carry; else the rejection every event of it gets. */
export function checkDataset(dataset: string): (ToEventResult & { ok: false }) | null {
  if (typeof dataset !== 'string' || !NAME_PATTERN.test(dataset)) {
    return reject('malformed', `dataset ${describeValue(dataset)} is not a valid name (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)`);
  }
  if (!(DATASETS as readonly string[]).includes(dataset)) {
    return reject('unconfigured', `dataset ${JSON.stringify(dataset)} is not one the pipeline carries (${DATASETS.join(', ')})`);
  }
  return null;
}

/** RFC 3339: a date, "T" or a space, a time, a zone. Date.parse alone also takes "1", "May 5" and more. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function timeOf(value: unknown, receivedNs: number): number | null {
  if (value === undefined) return receivedNs;
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value === 'string' && RFC3339.test(value)) {
    const ms = Date.parse(value);
    return Number.isFinite(ms) && ms >= 0 ? ms * 1e6 : null;
  }
  return null;
}

function reject(reason: IngestReason, message: string): ToEventResult & { ok: false } {
  return { ok: false, reason, message };
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
