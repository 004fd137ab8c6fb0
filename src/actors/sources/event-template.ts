/**
 * An event encoded once and patched per copy: the synthetic edge's fast path.
 *
 * Encoding a 30-field event with msgpackr costs ~4 µs (253 k events/s, bench/results/codec.json);
 * copying its ~420 bytes and rewriting four fixed-width fields costs a small fraction of that. So
 * each template is encoded with sentinel values in the fields every event must have of its own,
 * the sentinels are found in the bytes (each exactly once, or the template is refused), and a new
 * event is the template with those bytes overwritten:
 *
 *   time fields   0xcb + float64 big-endian (9 bytes): unix ns near 1.7e18 is past 2^53 and past
 *                 any 32-bit integer, so msgpackr writes every such number as float64, sentinel
 *                 or real, and a patched value decodes as the number a fresh encoding would give.
 *   RayID         0xb0 + 16 ASCII bytes: a fixstr of 16 characters is always 17 bytes.
 *   ZoneID        0xce + uint32 big-endian (5 bytes). msgpackr writes a small integer shorter;
 *                 the sentinel (> 0xffff) makes it choose 0xce, and 0xce decodes to the same
 *                 number for any uint32, so every zone id fits the same five bytes.
 *
 * Template values elsewhere (host, path, status, ...) repeat across events; only these fields
 * are promised to be new in every event.
 */

import type { Codec } from '../../runtime/codec.js';
import type { Dataset } from '../job.js';
import { templateError } from './errors.js';
import { RAY_ID_LENGTH, writeRayId, type RayBits } from './ray-id.js';
import { TIMESTAMP_FIELD } from './structures.js';

/** msgpack type bytes of the patched fields. */
const FLOAT64 = 0xcb;
const UINT32 = 0xce;
const FIXSTR_16 = 0xa0 | RAY_ID_LENGTH;

/** The time fields of each dataset, the event time first; later ones keep their template offset from it. */
export const TIME_FIELDS: { readonly [D in Dataset]: readonly string[] } = {
  http_requests: [TIMESTAMP_FIELD.http_requests, 'EdgeEndTimestamp'],
  firewall_events: [TIMESTAMP_FIELD.firewall_events],
};
export const ZONE_FIELD = 'ZoneID';
export const RAY_FIELD = 'RayID';

/** Doubles no real field holds (far beyond any timestamp), one per time field. */
const TIME_SENTINELS = [-8.765432101234567e299, -7.654321012345678e298, -6.543210123456789e297];
const ZONE_SENTINEL = 0xf00dfeed;
const RAY_SENTINEL = '5e47be17ca5e7a1d';

export class EventTemplate {
  readonly dataset: Dataset;
  /** The encoded event. Patched in place: holds the last patched event's fields. */
  readonly bytes: Uint8Array;
  /** Where each value starts (after its type byte). */
  readonly timeOffsets: readonly number[];
  /** Each time field's distance from the event time, as in the template (EdgeEnd - EdgeStart). */
  readonly timeDeltasNs: readonly number[];
  readonly zoneOffset: number;
  readonly rayOffset: number;
  private readonly view: DataView;

  constructor(codec: Codec, dataset: Dataset, event: Readonly<Record<string, unknown>>) {
    const timeFields = TIME_FIELDS[dataset];
    if (timeFields.length > TIME_SENTINELS.length) throw templateError(`dataset ${dataset} has ${timeFields.length} time fields; templates patch at most ${TIME_SENTINELS.length}`);
    const base = timeValue(event, timeFields[0]!, dataset);
    this.timeDeltasNs = timeFields.map((field) => timeValue(event, field, dataset) - base);
    for (const field of [ZONE_FIELD, RAY_FIELD]) {
      if (!Object.hasOwn(event, field)) throw templateError(`${dataset} template has no ${field} field to patch`);
    }
    // Spreading keeps each key where it was: the sentinel event has the template's shape (record).
    const marked: Record<string, unknown> = { ...event, [ZONE_FIELD]: ZONE_SENTINEL, [RAY_FIELD]: RAY_SENTINEL };
    for (const [i, field] of timeFields.entries()) marked[field] = TIME_SENTINELS[i];
    const bytes = codec.encode(marked);
    this.dataset = dataset;
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.timeOffsets = timeFields.map((field, i) => locate(bytes, float64Bytes(TIME_SENTINELS[i]!), dataset, field));
    this.zoneOffset = locate(bytes, uint32Bytes(ZONE_SENTINEL), dataset, ZONE_FIELD);
    this.rayOffset = locate(bytes, fixstrBytes(RAY_SENTINEL), dataset, RAY_FIELD);
  }

  /** Overwrites the patched fields: the event time and those that follow it, the zone, the ray. */
  patch(timeNs: number, zoneId: number, ray: RayBits): void {
    const view = this.view;
    const offsets = this.timeOffsets;
    const deltas = this.timeDeltasNs;
    for (let i = 0; i < offsets.length; i++) view.setFloat64(offsets[i]!, timeNs + deltas[i]!);
    view.setUint32(this.zoneOffset, zoneId);
    writeRayId(this.bytes, this.rayOffset, ray);
  }
}

function timeValue(event: Readonly<Record<string, unknown>>, field: string, dataset: Dataset): number {
  const value = event[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw templateError(`${dataset} template's ${field} must be a finite number of unix ns, got ${String(value)}`);
  return value;
}

/** The offset just past `needle`'s type byte: the value's first byte. Refuses none or several matches. */
function locate(bytes: Uint8Array, needle: Uint8Array, dataset: Dataset, field: string): number {
  const haystack = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = haystack.indexOf(needle);
  if (at < 0) throw templateError(`${dataset} template: the encoded ${field} sentinel is not in its ${bytes.length} bytes (not written as ${hexByte(needle[0]!)})`);
  const again = haystack.indexOf(needle, at + 1);
  if (again >= 0) throw templateError(`${dataset} template: the encoded ${field} sentinel appears twice (bytes ${at} and ${again}); cannot tell which to patch`);
  return at + 1;
}

function float64Bytes(value: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = FLOAT64;
  new DataView(out.buffer).setFloat64(1, value);
  return out;
}

function uint32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = UINT32;
  new DataView(out.buffer).setUint32(1, value);
  return out;
}

function fixstrBytes(ascii: string): Uint8Array {
  const out = new Uint8Array(1 + ascii.length);
  out[0] = FIXSTR_16;
  for (let i = 0; i < ascii.length; i++) out[1 + i] = ascii.charCodeAt(i);
  return out;
}

function hexByte(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}
